package dev.lethe.gateway.kafka;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.jobs.JobHub;
import dev.lethe.gateway.jobs.JobPublisher;
import dev.lethe.gateway.jobs.TokenArchive;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.Event;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.EventDeserializer;
import dev.lethe.schemas.EventSerializer;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.kafka.autoconfigure.KafkaProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.config.TopicBuilder;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.core.DefaultKafkaProducerFactory;
import org.springframework.kafka.core.KafkaAdmin;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.core.ProducerFactory;
import org.springframework.kafka.listener.ContainerProperties;
import org.springframework.kafka.listener.KafkaMessageListenerContainer;
import org.springframework.kafka.listener.MessageListener;

/**
 * The gateway's Kafka clients, built from Boot's {@code spring.kafka.*} settings with the event serdes
 * of {@code kafka-schemas}.
 *
 * <p>Consumers: each gateway instance reads every partition of {@code lethe.tokens} and
 * {@code lethe.jobs} in consumer groups of its own (named by {@code lethe.gateway.instance-id}), since
 * any instance may serve any client. They never commit: on start, {@code lethe.jobs} (compacted) is
 * read from the beginning to learn every job's state, and {@code lethe.tokens} from the end; older
 * tokens are read back on demand by the {@link KafkaTokenArchive}.
 */
@Configuration(proxyBeanMethods = false)
public class KafkaConfiguration {

    @Bean
    EventCodec eventCodec() {
        return new EventCodec();
    }

    @Bean
    ProducerFactory<String, Event> eventProducerFactory(KafkaProperties kafka, EventCodec codec) {
        return new DefaultKafkaProducerFactory<>(kafka.buildProducerProperties(), new StringSerializer(),
                new EventSerializer<>(codec));
    }

    @Bean
    KafkaTemplate<String, Event> eventTemplate(ProducerFactory<String, Event> producers) {
        return new KafkaTemplate<>(producers);
    }

    @Bean
    JobPublisher jobPublisher(KafkaTemplate<String, Event> template) {
        return new KafkaJobPublisher(template);
    }

    /** Short-lived consumers without a group that read a job's tokens back (see {@link KafkaTokenArchive}). */
    @Bean
    ConsumerFactory<String, DecodeResult<TokenChunk>> replayConsumerFactory(KafkaProperties kafka, EventCodec codec) {
        Map<String, Object> config = consumerConfig(kafka);
        config.remove(ConsumerConfig.GROUP_ID_CONFIG);
        return consumers(config, codec, TokenChunk.class);
    }

    @Bean
    TokenArchive tokenArchive(ConsumerFactory<String, DecodeResult<TokenChunk>> replayConsumerFactory,
                              GatewayProperties gateway) {
        return new KafkaTokenArchive(replayConsumerFactory, gateway.streams().replayTimeout());
    }

    @Bean
    JobEventListeners jobEventListeners(JobHub hub) {
        return new JobEventListeners(hub);
    }

    /** {@code lethe.tokens} from the end. */
    @Bean
    ConsumerFactory<String, DecodeResult<TokenChunk>> tokenConsumerFactory(KafkaProperties kafka, EventCodec codec) {
        Map<String, Object> config = consumerConfig(kafka);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        return consumers(config, codec, TokenChunk.class);
    }

    /** {@code lethe.jobs} from the beginning. */
    @Bean
    ConsumerFactory<String, DecodeResult<JobStatus>> statusConsumerFactory(KafkaProperties kafka, EventCodec codec) {
        Map<String, Object> config = consumerConfig(kafka);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return consumers(config, codec, JobStatus.class);
    }

    @Bean
    KafkaMessageListenerContainer<String, DecodeResult<TokenChunk>> tokenListenerContainer(
            ConsumerFactory<String, DecodeResult<TokenChunk>> tokenConsumerFactory, KafkaProperties kafka,
            GatewayProperties gateway, JobEventListeners listeners) {
        return container(tokenConsumerFactory, Topics.TOKENS, "lethe-gateway-" + gateway.instanceId() + "-tokens",
                listeners::onToken, kafka);
    }

    @Bean
    KafkaMessageListenerContainer<String, DecodeResult<JobStatus>> statusListenerContainer(
            ConsumerFactory<String, DecodeResult<JobStatus>> statusConsumerFactory, KafkaProperties kafka,
            GatewayProperties gateway, JobEventListeners listeners) {
        return container(statusConsumerFactory, Topics.JOBS, "lethe-gateway-" + gateway.instanceId() + "-jobs",
                listeners::onStatus, kafka);
    }

    @Bean
    @ConditionalOnProperty(name = "lethe.gateway.kafka.create-topics", havingValue = "true", matchIfMissing = true)
    KafkaAdmin.NewTopics letheTopics(GatewayProperties gateway) {
        GatewayProperties.Kafka settings = gateway.kafka();
        return new KafkaAdmin.NewTopics(Topics.ALL.stream()
                .map(spec -> TopicBuilder.name(spec.name())
                        .partitions(settings.partitions())
                        .replicas(settings.replicationFactor())
                        .configs(spec.configs())
                        .build())
                .toArray(org.apache.kafka.clients.admin.NewTopic[]::new));
    }

    private static Map<String, Object> consumerConfig(KafkaProperties kafka) {
        Map<String, Object> config = new HashMap<>(kafka.buildConsumerProperties());
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        return config;
    }

    private static <T extends Event> ConsumerFactory<String, DecodeResult<T>> consumers(
            Map<String, Object> config, EventCodec codec, Class<T> type) {
        return new DefaultKafkaConsumerFactory<>(config, new StringDeserializer(), new EventDeserializer<>(codec, type));
    }

    private static <V> KafkaMessageListenerContainer<String, V> container(ConsumerFactory<String, V> consumers,
            String topic, String groupId, MessageListener<String, V> listener, KafkaProperties kafka) {
        ContainerProperties properties = new ContainerProperties(topic);
        properties.setGroupId(groupId);
        properties.setMessageListener(listener);
        // Never acknowledged, so never committed: see the class comment.
        properties.setAckMode(ContainerProperties.AckMode.MANUAL);
        KafkaMessageListenerContainer<String, V> container = new KafkaMessageListenerContainer<>(consumers, properties);
        // spring.kafka.listener.auto-startup=false: a gateway that does not read Kafka (tests of the HTTP layer).
        container.setAutoStartup(kafka.getListener().isAutoStartup());
        return container;
    }
}
