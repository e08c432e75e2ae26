package dev.lethe.gateway.security;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.api.ApiProblem;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.web.server.ServerWebExchange;

/**
 * Bounds the streams (SSE responses) each tenant holds open at once: every open stream holds a
 * connection, a subscription and its heartbeat timer, so one tenant must not be able to take them all.
 *
 * <p>A controller takes a permit for its exchange before it starts a stream; {@link ApiKeyFilter}
 * gives it back when the exchange ends, however it ends (completed, failed, or the client went away).
 * Tying the permit to the exchange rather than to the stream's subscription means a stream that is
 * never subscribed (the client left first) cannot leak its permit.
 */
public final class StreamLimits {

    private static final String PERMIT = StreamLimits.class.getName() + ".permit";

    private final int defaultLimit;
    private final Map<String, Integer> limitByTenant = new HashMap<>();
    private final Map<String, AtomicInteger> openByTenant = new ConcurrentHashMap<>();

    public StreamLimits(GatewayProperties.Streams streams, List<GatewayProperties.Tenant> tenants) {
        this.defaultLimit = streams.maxPerTenant();
        for (GatewayProperties.Tenant tenant : tenants) {
            if (tenant.maxStreams() != null) {
                limitByTenant.put(tenant.name(), tenant.maxStreams());
            }
        }
    }

    /**
     * Takes a stream permit of {@code tenant} for this exchange (at most one per exchange).
     *
     * @throws ApiProblem 429 when the tenant already holds its limit
     */
    public void acquire(ServerWebExchange exchange, String tenant) {
        if (exchange.getAttributes().containsKey(PERMIT)) {
            return;
        }
        int limit = limitOf(tenant);
        AtomicInteger open = openByTenant.computeIfAbsent(tenant, t -> new AtomicInteger());
        if (open.incrementAndGet() > limit) {
            open.decrementAndGet();
            throw ApiProblem.tooManyStreams(tenant, limit);
        }
        exchange.getAttributes().put(PERMIT, tenant);
    }

    /** Gives back the exchange's permit, if it holds one; safe to call more than once. */
    public void release(ServerWebExchange exchange) {
        Object tenant = exchange.getAttributes().remove(PERMIT);
        if (tenant != null) {
            openByTenant.get((String) tenant).decrementAndGet();
        }
    }

    /** Streams {@code tenant} holds open now. */
    public int open(String tenant) {
        AtomicInteger open = openByTenant.get(tenant);
        return open == null ? 0 : open.get();
    }

    public int limitOf(String tenant) {
        return limitByTenant.getOrDefault(tenant, defaultLimit);
    }
}
