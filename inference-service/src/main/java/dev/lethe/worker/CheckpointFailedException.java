package dev.lethe.worker;

import java.util.Locale;

/** A checkpoint that did not become durable; {@link #reason} says which step failed (a tag of its metric). */
final class CheckpointFailedException extends Exception {

    enum Reason {
        /** Writing the blob to the checkpoint store failed. */
        STORE,
        /** Not tried: the circuit breaker around the store is open. */
        CIRCUIT_OPEN,
        /** The blob is stored, but its manifest could not be written to {@code lethe.checkpoints}. */
        MANIFEST;

        String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Reason reason;

    CheckpointFailedException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    Reason reason() {
        return reason;
    }
}
