package dev.lethe.gateway;

import dev.lethe.gateway.api.RequestParser;
import dev.lethe.gateway.jobs.JobHub;
import dev.lethe.gateway.jobs.JobPublisher;
import dev.lethe.gateway.jobs.JobService;
import dev.lethe.gateway.jobs.TokenArchive;
import dev.lethe.gateway.security.ApiKeys;
import dev.lethe.gateway.security.TenantRateLimiters;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The plain Java services behind the controllers. */
@Configuration(proxyBeanMethods = false)
public class GatewayConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(GatewayConfiguration.class);

    @Bean
    JobHub jobHub(TokenArchive archive, GatewayProperties properties) {
        return new JobHub(archive, properties.streams());
    }

    @Bean
    JobService jobService(JobHub hub, JobPublisher publisher) {
        return new JobService(hub, publisher, Clock.systemUTC());
    }

    @Bean
    RequestParser requestParser(GatewayProperties properties) {
        return new RequestParser(properties);
    }

    @Bean
    ApiKeys apiKeys(GatewayProperties properties) {
        ApiKeys keys = new ApiKeys(properties.tenants());
        if (keys.contains(GatewayProperties.DEV_API_KEY)) {
            LOG.warn("the public development API key is accepted; set lethe.gateway.tenants for anything but local use");
        }
        return keys;
    }

    @Bean
    TenantRateLimiters tenantRateLimiters(GatewayProperties properties) {
        return new TenantRateLimiters(properties.rateLimit(), properties.tenants());
    }
}
