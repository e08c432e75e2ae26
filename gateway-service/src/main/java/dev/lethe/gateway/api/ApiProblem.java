package dev.lethe.gateway.api;

import dev.lethe.schemas.JobError;
import java.util.List;
import org.springframework.http.HttpStatus;

/**
 * A request that fails in a way the client can act on; answered as an RFC 9457 problem detail
 * ({@link ProblemResponses}).
 *
 * @see ProblemResponses
 */
public final class ApiProblem extends RuntimeException {

    private final HttpStatus status;
    private final String type;
    private final String title;
    private final List<FieldError> errors;

    /** One problem with one request field; {@code field} is a JSON path such as {@code messages[2].role}. */
    public record FieldError(String field, String message) {
    }

    public ApiProblem(HttpStatus status, String type, String title, String detail, List<FieldError> errors) {
        super(detail);
        this.status = status;
        this.type = type;
        this.title = title;
        this.errors = List.copyOf(errors);
    }

    public static ApiProblem invalid(List<FieldError> errors) {
        String detail = errors.size() == 1
                ? errors.getFirst().field() + ": " + errors.getFirst().message()
                : errors.size() + " request fields are invalid: "
                        + String.join("; ", errors.stream().map(e -> e.field() + ": " + e.message()).toList());
        return new ApiProblem(HttpStatus.BAD_REQUEST, "invalid-request", "Invalid request", detail, errors);
    }

    public static ApiProblem badJson(String detail) {
        return new ApiProblem(HttpStatus.BAD_REQUEST, "malformed-json", "Malformed JSON", detail, List.of());
    }

    public static ApiProblem jobNotFound(String jobId) {
        return new ApiProblem(HttpStatus.NOT_FOUND, "job-not-found", "Job not found",
                "no job with id " + jobId, List.of());
    }

    public static ApiProblem unavailable(String detail) {
        return new ApiProblem(HttpStatus.SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail, List.of());
    }

    /** Kafka could not take an event: {@code what} failed, with the innermost cause's message. */
    public static ApiProblem unavailable(String what, Throwable error) {
        Throwable cause = error;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        String message = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        return unavailable(what + ": " + message);
    }

    public static ApiProblem tooManyStreams(String tenant, int limit) {
        return new ApiProblem(HttpStatus.TOO_MANY_REQUESTS, "too-many-streams", "Too many streams",
                "tenant " + tenant + " already has " + limit + " streams open, its limit; close one first", List.of());
    }

    public static ApiProblem bodyTooLarge(long limitBytes) {
        return new ApiProblem(HttpStatus.CONTENT_TOO_LARGE, "body-too-large", "Request body too large",
                "the request body is larger than the limit of " + limitBytes + " bytes", List.of());
    }

    /**
     * A valid request that the worker refused before running it, because its model cannot serve it as it is
     * ({@link JobError#REQUEST_REJECTED}, such as a chat request for a model without a chat template). The
     * detail starts with the worker's code.
     */
    public static ApiProblem rejected(JobError error) {
        return new ApiProblem(HttpStatus.UNPROCESSABLE_CONTENT, "request-rejected", "Request rejected by the model",
                error.code() + ": " + error.message(), List.of());
    }

    public static ApiProblem jobFailed(String detail) {
        return new ApiProblem(HttpStatus.BAD_GATEWAY, "job-failed", "Job failed", detail, List.of());
    }

    public static ApiProblem timeout(String detail) {
        return new ApiProblem(HttpStatus.GATEWAY_TIMEOUT, "timeout", "Timed out", detail, List.of());
    }

    public HttpStatus status() {
        return status;
    }

    /** A short slug; the problem's {@code type} URI is built from it. */
    public String type() {
        return type;
    }

    public String title() {
        return title;
    }

    public String detail() {
        return getMessage();
    }

    public List<FieldError> errors() {
        return errors;
    }
}
