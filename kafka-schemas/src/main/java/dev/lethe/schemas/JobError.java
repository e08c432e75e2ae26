package dev.lethe.schemas;

import java.util.Objects;
import java.util.Set;

/**
 * Why a job failed.
 *
 * @param code stable machine-readable code, for example {@code MODEL_NOT_FOUND} or {@code OUT_OF_MEMORY}
 */
public record JobError(String code, String message) {

    /** The request names a model its worker does not serve. */
    public static final String MODEL_NOT_FOUND = "MODEL_NOT_FOUND";
    /** The prompt (after the chat template) does not fit the model's context. */
    public static final String PROMPT_TOO_LONG = "PROMPT_TOO_LONG";
    /** A chat request (messages) for a model without a chat template. */
    public static final String CHAT_NOT_SUPPORTED = "CHAT_NOT_SUPPORTED";
    /** Sampling parameters the worker's sampler refuses. */
    public static final String INVALID_SAMPLING = "INVALID_SAMPLING";
    /** A KV policy, or a parameter of it, that the worker does not know. */
    public static final String INVALID_KV_POLICY = "INVALID_KV_POLICY";

    /**
     * The codes of a valid request that the worker refused before running it: the model cannot serve it as it
     * is, and the client must change it (any other code is a failure of the job itself).
     */
    public static final Set<String> REQUEST_REJECTED = Set.of(MODEL_NOT_FOUND, PROMPT_TOO_LONG, CHAT_NOT_SUPPORTED,
            INVALID_SAMPLING, INVALID_KV_POLICY);

    public JobError {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(message, "message");
    }

    /** Whether {@code error} says the request was refused (see {@link #REQUEST_REJECTED}); false for null. */
    public static boolean rejectsRequest(JobError error) {
        return error != null && REQUEST_REJECTED.contains(error.code());
    }
}
