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
 * <p>A controller takes a {@link StreamPermit} for its exchange before it starts a stream, and gives it back
 * before the client can see the response end: as the stream's last event goes out, when the stream ends or is
 * cancelled, or before a problem (4xx, 5xx) that answers the request instead is written. {@link ApiKeyFilter}
 * also gives it back when the exchange ends, however it ends: a stream that is never subscribed (the client
 * left first) cannot leak its permit. A permit counts only its first release.
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
     * Takes a stream permit of {@code tenant} for this exchange (at most one per exchange: a second call
     * returns the first permit).
     *
     * @throws ApiProblem 429 when the tenant already holds its limit
     */
    public StreamPermit acquire(ServerWebExchange exchange, String tenant) {
        if (exchange.getAttribute(PERMIT) instanceof StreamPermit taken) {
            return taken;
        }
        int limit = limitOf(tenant);
        AtomicInteger open = openByTenant.computeIfAbsent(tenant, t -> new AtomicInteger());
        if (open.incrementAndGet() > limit) {
            open.decrementAndGet();
            throw ApiProblem.tooManyStreams(tenant, limit);
        }
        StreamPermit permit = new StreamPermit(open);
        exchange.getAttributes().put(PERMIT, permit);
        return permit;
    }

    /** Gives back the exchange's permit, if it holds one that was not given back yet. */
    public void release(ServerWebExchange exchange) {
        if (exchange.getAttribute(PERMIT) instanceof StreamPermit permit) {
            permit.release();
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
