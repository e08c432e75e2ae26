package dev.lethe.gateway.api;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * RFC 9457 problem details as the gateway writes them: {@code type}, {@code title}, {@code status},
 * {@code detail}, {@code errors} for field problems, and an {@code error} member in OpenAI's shape
 * ({@code message}, {@code type}, {@code code}), so that OpenAI client libraries show the reason too.
 */
public final class ProblemResponses {

    public static final MediaType PROBLEM_JSON = MediaType.APPLICATION_PROBLEM_JSON;
    static final String TYPE_PREFIX = "urn:lethe:problem:";

    private ProblemResponses() {
    }

    public static Map<String, Object> body(ApiProblem problem) {
        return body(problem.status(), problem.type(), problem.title(), problem.detail(), problem.errors());
    }

    /** Writes {@code problem} as the whole response: for web filters, which answer before any controller. */
    public static Mono<Void> write(ServerHttpResponse response, ApiProblem problem, JsonMapper json) {
        response.setStatusCode(problem.status());
        response.getHeaders().setContentType(PROBLEM_JSON);
        DataBuffer buffer = response.bufferFactory().wrap(json.writeValueAsBytes(body(problem)));
        return response.writeWith(Mono.just(buffer));
    }

    public static Map<String, Object> body(HttpStatusCode status, String type, String title, String detail,
                                           List<ApiProblem.FieldError> errors) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", TYPE_PREFIX + type);
        body.put("title", title);
        body.put("status", status.value());
        body.put("detail", detail);
        if (!errors.isEmpty()) {
            body.put("errors", errors.stream()
                    .map(e -> Map.of("field", e.field(), "message", e.message()))
                    .toList());
        }
        Map<String, Object> openAi = new LinkedHashMap<>();
        openAi.put("message", detail);
        openAi.put("type", type);
        openAi.put("code", status.value());
        body.put("error", openAi);
        return body;
    }
}
