package dev.lethe.gateway.api;

import dev.lethe.gateway.GatewayProperties;
import java.util.List;
import java.util.Map;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.server.ResponseStatusException;

/** Every error a controller raises becomes an RFC 9457 problem detail. */
@RestControllerAdvice
public class ProblemHandler {

    private final long maxBodyBytes;

    public ProblemHandler(GatewayProperties properties) {
        this.maxBodyBytes = properties.limits().maxBodySize().toBytes();
    }

    @ExceptionHandler(ApiProblem.class)
    ResponseEntity<Map<String, Object>> problem(ApiProblem problem) {
        return ResponseEntity.status(problem.status()).contentType(ProblemResponses.PROBLEM_JSON)
                .body(ProblemResponses.body(problem));
    }

    /** A body sent without a length that outgrew the codecs' buffer limit (see {@code BodySizeFilter}). */
    @ExceptionHandler(DataBufferLimitException.class)
    ResponseEntity<Map<String, Object>> tooLarge(DataBufferLimitException error) {
        return problem(ApiProblem.bodyTooLarge(maxBodyBytes));
    }

    /** Spring's own errors: unsupported media type, missing parameters, unreadable bodies, ... */
    @ExceptionHandler(ResponseStatusException.class)
    ResponseEntity<Map<String, Object>> framework(ResponseStatusException error) {
        for (Throwable cause = error.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            if (cause instanceof DataBufferLimitException) {
                return problem(ApiProblem.bodyTooLarge(maxBodyBytes));
            }
        }
        HttpStatusCode status = error.getStatusCode();
        HttpStatus known = HttpStatus.resolve(status.value());
        String title = known == null ? "Error" : known.getReasonPhrase();
        String detail = error.getReason() != null ? error.getReason() : title;
        return ResponseEntity.status(status).headers(error.getHeaders()).contentType(ProblemResponses.PROBLEM_JSON)
                .body(ProblemResponses.body(status, title.toLowerCase().replace(' ', '-'), title, detail, List.of()));
    }
}
