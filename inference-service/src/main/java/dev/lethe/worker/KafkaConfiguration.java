package dev.lethe.worker;

import dev.lethe.schemas.Topics;
import org.apache.kafka.clients.admin.NewTopic;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.KafkaAdmin;
import org.springframework.kafka.listener.ContainerProperties;
import org.springframework.kafka.listener.DefaultErrorHandler;
import org.springframework.util.backoff.ExponentialBackOff;

/**
 * The requests listener container and the topics ({@code lethe.control} is read by {@link ControlReader}). Records are read as bytes and decoded by {@code EventCodec} in the listeners,
 * so that a record that does not decode can go to the DLQ exactly as it came.
 */
@Configuration(proxyBeanMethods = false)
class KafkaConfiguration {

    /**
     * {@code lethe.requests}: offsets are committed by the listener once the job is accepted; the container pauses
     * right after the record in hand when the queue fills up. A listener failure (Kafka unreachable for the
     * status write) delivers the record again after a backoff, for as long as it takes: skipping it would lose a job.
     */
    @Bean
    ConcurrentKafkaListenerContainerFactory<byte[], byte[]> requestsListenerFactory(ConsumerFactory<byte[], byte[]> consumers,
                                                                                     PartitionOwnership ownership,
                                                                                     WorkerProperties properties) {
        var factory = new ConcurrentKafkaListenerContainerFactory<byte[], byte[]>();
        factory.setConsumerFactory(consumers);
        var container = factory.getContainerProperties();
        container.setAckMode(ContainerProperties.AckMode.MANUAL_IMMEDIATE);
        container.setPauseImmediate(true);
        // Partition ownership is job ownership: their jobs are handed over before partitions go, which may take the
        // hand-over timeout, also when stopping. (The listener asks for cooperative-sticky rebalancing.)
        container.setConsumerRebalanceListener(ownership);
        container.setShutdownTimeout(properties.checkpoints().handoverTimeout().plusSeconds(10).toMillis());
        var backOff = new ExponentialBackOff(200, 2.0);
        backOff.setMaxInterval(10_000);
        factory.setCommonErrorHandler(new DefaultErrorHandler(backOff));
        return factory;
    }

    /** Every Lethe topic with its settings, created at start-up if missing (KafkaAdmin leaves existing ones alone). */
    @Bean
    @ConditionalOnProperty(name = "lethe.worker.topics.create", havingValue = "true", matchIfMissing = true)
    KafkaAdmin.NewTopics letheTopics(WorkerProperties properties) {
        var t = properties.topics();
        return new KafkaAdmin.NewTopics(Topics.newTopics(t.partitions(), t.replicationFactor()).toArray(NewTopic[]::new));
    }
}
