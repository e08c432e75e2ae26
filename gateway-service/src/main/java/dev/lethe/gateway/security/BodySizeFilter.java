package dev.lethe.gateway.security;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.api.ApiProblem;
import dev.lethe.gateway.api.ProblemResponses;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * Refuses a request whose declared body ({@code Content-Length}) is larger than
 * {@code lethe.gateway.limits.max-body-size} with 413, before reading any of it. A body sent without a
 * length (chunked) is cut off by the codecs' in-memory limit, which {@code GatewayConfiguration} sets
 * to the same size, and answered with the same 413 by {@code ProblemHandler}.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 5)
public class BodySizeFilter implements WebFilter {

    private final long maxBytes;
    private final JsonMapper json;

    public BodySizeFilter(GatewayProperties properties, JsonMapper json) {
        this.maxBytes = properties.limits().maxBodySize().toBytes();
        this.json = json;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        long length = exchange.getRequest().getHeaders().getContentLength();
        if (length > maxBytes) {
            return ProblemResponses.write(exchange.getResponse(), ApiProblem.bodyTooLarge(maxBytes), json);
        }
        return chain.filter(exchange);
    }
}
