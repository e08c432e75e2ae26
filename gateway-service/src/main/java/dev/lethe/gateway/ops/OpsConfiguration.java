package dev.lethe.gateway.ops;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.jobs.JobHub;
import dev.lethe.gateway.security.StreamLimits;
import org.springframework.boot.kafka.autoconfigure.KafkaProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Health and metrics. The health groups themselves ({@code /actuator/health/liveness}: the process;
 * {@code /actuator/health/readiness}: also Kafka) are set in {@code application.yml}.
 */
@Configuration(proxyBeanMethods = false)
public class OpsConfiguration {

    /** Named so that its health contributor is {@code kafka}. */
    @Bean(destroyMethod = "close")
    KafkaHealth kafkaHealthIndicator(KafkaProperties kafka, GatewayProperties gateway) {
        return new KafkaHealth(kafka.buildAdminProperties(), gateway.kafka().healthTimeout(),
                gateway.kafka().healthCacheFor());
    }

    @Bean
    GatewayMetrics gatewayMetrics(JobHub hub, StreamLimits streams, GatewayProperties gateway) {
        return new GatewayMetrics(hub, streams, gateway);
    }
}
