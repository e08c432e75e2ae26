package dev.lethe.store;

import java.io.IOException;

/**
 * A checkpoint store could not do what was asked. An {@link IOException}, so it travels through the streams
 * the store hands out (a verified read reports a bad digest from inside {@code read}).
 */
public final class CheckpointStoreException extends IOException {

    /** What went wrong, for the caller's choice between retrying, recomputing and giving up. */
    public enum Reason {
        /** No blob at that address: the job falls back to recompute. */
        MISSING,
        /** The blob is there but its size or SHA-256 is not the one claimed. */
        CORRUPT,
        /** A malformed id or a URI that does not belong to this store: a caller's bug. */
        INVALID,
        /** The storage itself failed (disk, network, server): may succeed if retried. */
        IO
    }

    private final Reason reason;

    public CheckpointStoreException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public static CheckpointStoreException missing(String message, Throwable cause) {
        return new CheckpointStoreException(Reason.MISSING, message, cause);
    }

    public static CheckpointStoreException invalid(String message) {
        return new CheckpointStoreException(Reason.INVALID, message, null);
    }

    public static CheckpointStoreException io(String message, Throwable cause) {
        return new CheckpointStoreException(Reason.IO, message + (cause == null ? "" : ": " + cause.getMessage()), cause);
    }

    public Reason reason() {
        return reason;
    }

    public boolean isMissing() {
        return reason == Reason.MISSING;
    }
}
