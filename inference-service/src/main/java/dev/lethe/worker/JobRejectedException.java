package dev.lethe.worker;

/**
 * A valid request that this worker cannot run (unknown model, prompt longer than the context, bad KV policy...).
 * The job ends FAILED with {@link #code} and the message; the request is not a dead letter, since the client can
 * learn from the job's state what to change.
 */
final class JobRejectedException extends Exception {
    private final String code;

    JobRejectedException(String code, String message) {
        super(message);
        this.code = code;
    }

    String code() {
        return code;
    }
}
