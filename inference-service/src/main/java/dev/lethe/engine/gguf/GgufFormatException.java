package dev.lethe.engine.gguf;

/** A GGUF file that cannot be read: truncated, corrupted, or using something we do not support. */
public class GgufFormatException extends RuntimeException {
    public GgufFormatException(String message) {
        super(message);
    }

    public GgufFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
