package dev.lethe.schemas;

import java.time.Instant;
import java.util.Objects;

/**
 * One entry of a job's history.
 *
 * @param worker the worker it happened on, or null
 * @param detail free text (why it was preempted, what made a resume inexact, ...), or null
 */
public record JobEvent(Type type, Instant at, String worker, String detail) {

    public enum Type {
        ACCEPTED,
        STARTED,
        CHECKPOINTED,
        PREEMPTED,
        /** Resumed from a checkpoint. */
        RESUMED,
        /** Resumed without a checkpoint, by a prefill of the prompt and the delivered tokens. */
        RECOMPUTED,
        /** Continued, but not conditioned on exactly the delivered text; {@code detail} says why. */
        RESUME_INEXACT,
        CANCELLED,
        COMPLETED,
        FAILED
    }

    public JobEvent {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(at, "at");
    }
}
