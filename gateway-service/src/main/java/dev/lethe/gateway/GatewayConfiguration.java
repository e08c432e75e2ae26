package dev.lethe.gateway;

import dev.lethe.gateway.api.RequestParser;
import dev.lethe.gateway.jobs.JobHub;
import dev.lethe.gateway.jobs.JobPublisher;
import dev.lethe.gateway.jobs.JobService;
import dev.lethe.gateway.jobs.TokenArchive;
import dev.lethe.gateway.security.ApiKeys;
import dev.lethe.gateway.security.StreamLimits;
import dev.lethe.gateway.security.TenantRateLimiters;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.http.codec.CodecCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;

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

    @Bean
    StreamLimits streamLimits(GatewayProperties properties) {
        return new StreamLimits(properties.streams(), properties.tenants());
    }

    /**
     * The codecs buffer at most {@code lethe.gateway.limits.max-body-size} of a body: the bound for a
     * body sent without a length, which {@link dev.lethe.gateway.security.BodySizeFilter} cannot check
     * up front. Ordered last, so that it overrides {@code spring.codec.max-in-memory-size}.
     */
    @Bean
    @Order(Ordered.LOWEST_PRECEDENCE)
    CodecCustomizer bodySizeCodecLimit(GatewayProperties properties) {
        int maxBytes = (int) Math.min(Integer.MAX_VALUE, properties.limits().maxBodySize().toBytes());
        return configurer -> configurer.defaultCodecs().maxInMemorySize(maxBytes);
    }
}
