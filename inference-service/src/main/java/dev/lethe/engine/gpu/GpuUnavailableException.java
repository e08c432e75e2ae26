package dev.lethe.engine.gpu;

/** The GPU backend cannot run here; the message says why (no kernels built, no driver, no device). */
public final class GpuUnavailableException extends RuntimeException {
    public GpuUnavailableException(String message) {
        super(message);
    }

    public GpuUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
