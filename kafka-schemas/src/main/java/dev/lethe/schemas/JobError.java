package dev.lethe.schemas;

import java.util.Objects;

/**
 * Why a job failed.
 *
 * @param code stable machine-readable code, for example {@code MODEL_NOT_FOUND} or {@code OUT_OF_MEMORY}
 */
public record JobError(String code, String message) {

    public JobError {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(message, "message");
    }
}
