package dev.lethe.worker;

import dev.lethe.engine.scheduler.DecodeLoop;
import java.time.Clock;
import java.time.Duration;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.kafka.autoconfigure.KafkaProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.config.AbstractKafkaListenerContainerFactory;

/**
 * Operations: the health indicators of the probe groups (set in {@code application.yml}: liveness is the
 * engine, readiness adds Kafka and {@link WorkerHealth}; {@link CheckpointStoreHealth} is in neither) and the job id in the logs of every listener.
 */
@Configuration(proxyBeanMethods = false)
class OpsConfiguration {

    /** Named so that its health contributor is {@code kafka}. */
    @Bean(destroyMethod = "close")
    KafkaHealth kafkaHealthIndicator(KafkaProperties kafka) {
        return new KafkaHealth(kafka.buildAdminProperties(), Duration.ofSeconds(2), Duration.ofSeconds(5));
    }

    /** Named so that its health contributor is {@code engine}. */
    @Bean
    EngineHealth engineHealthIndicator(DecodeLoop decodeLoop, StreamPublisher publisher) {
        return new EngineHealth(decodeLoop, publisher);
    }

    /** Named so that its health contributor is {@code checkpointStore}; in no probe group (see the class). */
    @Bean
    CheckpointStoreHealth checkpointStoreHealthIndicator(Checkpoints checkpoints, OwnedJobs jobs, Clock clock) {
        return new CheckpointStoreHealth(checkpoints, jobs, clock);
    }

    /** Every listener container factory of the worker gets {@link JobIdMdc}, whichever listeners it serves. */
    @Bean
    static BeanPostProcessor jobIdInListenerLogs() {
        return new BeanPostProcessor() {
            @Override
            @SuppressWarnings("unchecked")
            public Object postProcessAfterInitialization(Object bean, String beanName) {
                if (bean instanceof AbstractKafkaListenerContainerFactory<?, ?, ?> factory) {
                    ((AbstractKafkaListenerContainerFactory<?, byte[], byte[]>) factory).setRecordInterceptor(new JobIdMdc());
                }
                return bean;
            }
        };
    }
}
