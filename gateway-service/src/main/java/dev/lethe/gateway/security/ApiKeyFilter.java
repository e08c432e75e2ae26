package dev.lethe.gateway.security;

import dev.lethe.gateway.api.ApiProblem;
import dev.lethe.gateway.api.ProblemResponses;
import io.github.resilience4j.ratelimiter.RequestNotPermitted;
import io.github.resilience4j.reactor.ratelimiter.operator.RateLimiterOperator;
import java.util.List;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * Guards {@code /v1/**}: the bearer API key names the tenant (401 without a known key), and the
 * tenant's rate limiter admits the request (429 over the limit). The tenant is left in the exchange
 * attribute {@link #TENANT} for the controllers. When the exchange ends, the stream permit it took from
 * {@link StreamLimits}, if any and if its stream did not give it back already, is given back: the backstop for
 * a stream that never ran. Other paths ({@code /actuator/**}: probes and metrics)
 * need no key.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
public class ApiKeyFilter implements WebFilter {

    public static final String TENANT = "lethe.tenant";

    private final ApiKeys apiKeys;
    private final TenantRateLimiters limiters;
    private final StreamLimits streams;
    private final JsonMapper json;

    public ApiKeyFilter(ApiKeys apiKeys, TenantRateLimiters limiters, StreamLimits streams, JsonMapper json) {
        this.apiKeys = apiKeys;
        this.limiters = limiters;
        this.streams = streams;
        this.json = json;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        if (!exchange.getRequest().getPath().value().startsWith("/v1/")) {
            return chain.filter(exchange);
        }
        String authorization = exchange.getRequest().getHeaders().getFirst(HttpHeaders.AUTHORIZATION);
        String tenant = apiKeys.tenantOf(authorization).orElse(null);
        if (tenant == null) {
            ServerHttpResponse response = exchange.getResponse();
            response.getHeaders().set(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
            return write(response, HttpStatus.UNAUTHORIZED, "unauthorized", "Unauthorized",
                    authorization == null ? "an API key is required: send Authorization: Bearer <key>"
                            : "the API key is not valid");
        }
        exchange.getAttributes().put(TENANT, tenant);
        return Mono.defer(() -> chain.filter(exchange))
                .transformDeferred(RateLimiterOperator.of(limiters.forTenant(tenant)))
                .onErrorResume(RequestNotPermitted.class, refused -> {
                    ServerHttpResponse response = exchange.getResponse();
                    response.getHeaders().set(HttpHeaders.RETRY_AFTER,
                            Long.toString(limiters.retryAfterSeconds(tenant)));
                    return write(response, HttpStatus.TOO_MANY_REQUESTS, "rate-limited", "Too many requests",
                            "tenant " + tenant + " is over its request rate limit");
                })
                // The exchange is over, however it ended: a stream it opened no longer counts. Its stream or its
                // controller gave the permit back earlier, before the response ended, unless the stream never ran.
                .doFinally(signal -> streams.release(exchange));
    }

    private Mono<Void> write(ServerHttpResponse response, HttpStatus status, String type, String title, String detail) {
        return ProblemResponses.write(response, new ApiProblem(status, type, title, detail, List.of()), json);
    }
}
