package dev.lethe.gateway.ops;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.jobs.JobHub;
import dev.lethe.gateway.security.StreamLimits;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * The gateway's own meters, next to Spring Boot's ({@code http_server_requests_seconds}, JVM, Netty),
 * with their Prometheus names: jobs held in memory [{@code lethe_gateway_jobs_tracked}], and streams
 * open per tenant [{@code lethe_gateway_streams_open{tenant}}] against each tenant's limit
 * [{@code lethe_gateway_streams_limit{tenant}}].
 */
public final class GatewayMetrics implements MeterBinder {

    private final JobHub hub;
    private final StreamLimits streams;
    private final GatewayProperties properties;

    public GatewayMetrics(JobHub hub, StreamLimits streams, GatewayProperties properties) {
        this.hub = hub;
        this.streams = streams;
        this.properties = properties;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder("lethe.gateway.jobs.tracked", hub, JobHub::size)
                .description("Jobs whose state and recent tokens this gateway holds").register(registry);
        for (GatewayProperties.Tenant tenant : properties.tenants()) {
            Gauge.builder("lethe.gateway.streams.open", streams, s -> s.open(tenant.name()))
                    .tag("tenant", tenant.name()).description("Token streams open now").register(registry);
            Gauge.builder("lethe.gateway.streams.limit", streams, s -> s.limitOf(tenant.name()))
                    .tag("tenant", tenant.name()).description("Token streams a tenant may hold open").register(registry);
        }
    }
}
