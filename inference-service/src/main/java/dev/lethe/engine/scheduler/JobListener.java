package dev.lethe.engine.scheduler;

/**
 * What happens to one job, reported on the decode thread. Implementations must be quick and must not block:
 * every active job waits while one of these runs (hand the work to another thread).
 */
public interface JobListener {

    /** The prompt has been prefilled; tokens follow. Not called for a job cancelled or failed before it started. */
    void onStarted(int promptTokens);

    /**
     * A job submitted with a {@link Resumption} is back: tokens follow. Tokens its checkpoint held that the
     * client lacked have just been handed to {@link #onToken} (see {@link ResumeReport#caughtUp}).
     */
    default void onResumed(int promptTokens, ResumeReport report) {
        onStarted(promptTokens);
    }

    /**
     * @param seq   0-based index of the token among the generated ones
     * @param text  the text this token completes (may be empty)
     */
    void onToken(int seq, int tokenId, String text);

    /** A checkpoint of the running job (periodic, or asked for); the job goes on. */
    default void onCheckpoint(TakenCheckpoint checkpoint) {
    }

    /**
     * The job left the scheduler without ending, and nothing follows; its KV memory is free. {@code checkpoint}
     * is its state at the point it left, or null when it had not started (or the reason is {@link PreemptReason#LOST},
     * or the checkpoint could not be written).
     */
    default void onPreempted(PreemptReason reason, TakenCheckpoint checkpoint) {
    }

    /** The job ended; called at most once per submitted job (never after {@link #onPreempted}), and nothing follows it. */
    void onFinished(JobOutcome outcome);
}
