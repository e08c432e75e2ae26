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

    /**
     * Asked just before the job's state is serialised for a checkpoint: {@code false} skips the checkpoint, so that
     * the decode thread does not encode a whole KV cache that could not be stored anyway (the store is down, or still
     * busy with the previous one). {@code leaving} is true for the checkpoint a preemption takes (a skipped one leaves
     * without a checkpoint), false for a periodic or asked-for one. Not asked for a {@link PreemptReason#LOST} job,
     * which leaves without a checkpoint. After {@code true} exactly one of {@link #onCheckpoint},
     * {@link #onCheckpointFailed} (periodic or asked for) or {@link #onPreempted} (leaving) follows.
     */
    default boolean checkpointWanted(boolean leaving) {
        return true;
    }

    /** A checkpoint of the running job (periodic, or asked for); the job goes on. */
    default void onCheckpoint(TakenCheckpoint checkpoint) {
    }

    /** The checkpoint just wanted could not be written (logged by the scheduler); the job goes on. */
    default void onCheckpointFailed() {
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
