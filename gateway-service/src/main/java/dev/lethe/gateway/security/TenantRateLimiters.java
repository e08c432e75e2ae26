package dev.lethe.gateway.security;

import dev.lethe.gateway.GatewayProperties;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.RateLimiterRegistry;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One Resilience4j {@link RateLimiter} per tenant, with the tenant's own limit or the default one.
 * A request over the limit fails at once (no waiting for a permit): the client is told when to retry.
 */
public final class TenantRateLimiters {

    private final RateLimiterRegistry registry;
    private final Map<String, RateLimiterConfig> configByTenant = new HashMap<>();

    public TenantRateLimiters(GatewayProperties.RateLimit defaults, List<GatewayProperties.Tenant> tenants) {
        this.registry = RateLimiterRegistry.of(config(defaults));
        for (GatewayProperties.Tenant tenant : tenants) {
            if (tenant.rateLimit() != null) {
                configByTenant.put(tenant.name(), config(tenant.rateLimit()));
            }
        }
    }

    public RateLimiter forTenant(String tenant) {
        RateLimiterConfig config = configByTenant.get(tenant);
        return config == null ? registry.rateLimiter(tenant) : registry.rateLimiter(tenant, config);
    }

    /** Whole seconds until a refused tenant may try again: one refresh period, at least 1. */
    public long retryAfterSeconds(String tenant) {
        Duration period = forTenant(tenant).getRateLimiterConfig().getLimitRefreshPeriod();
        return Math.max(1, (period.toMillis() + 999) / 1000);
    }

    private static RateLimiterConfig config(GatewayProperties.RateLimit limit) {
        return RateLimiterConfig.custom()
                .limitForPeriod(limit.limitForPeriod())
                .limitRefreshPeriod(limit.refreshPeriod())
                .timeoutDuration(Duration.ZERO)
                .build();
    }
}
