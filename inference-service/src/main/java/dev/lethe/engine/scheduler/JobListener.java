package dev.lethe.engine.scheduler;

/**
 * What happens to one job, reported on the decode thread. Implementations must be quick and must not block:
 * every active job waits while one of these runs (hand the work to another thread).
 */
public interface JobListener {

    /** The prompt has been prefilled; tokens follow. Not called for a job cancelled or failed before it started. */
    void onStarted(int promptTokens);

    /**
     * @param seq   0-based index of the token among the generated ones
     * @param text  the text this token completes (may be empty)
     */
    void onToken(int seq, int tokenId, String text);

    /** The job ended; called exactly once per submitted job, and nothing follows it. */
    void onFinished(JobOutcome outcome);
}
