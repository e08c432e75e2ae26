package dev.lethe.cache.checkpoint;

import java.io.IOException;

/** The bytes are not an intact checkpoint: bad magic, truncated, a CRC32C or SHA-256 mismatch, or malformed. */
public final class CheckpointFormatException extends IOException {
    public CheckpointFormatException(String message) {
        super(message);
    }

    public CheckpointFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
