package dev.lethe.engine.scheduler;

import java.time.Duration;
import java.util.Objects;

/**
 * @param maxActiveJobs        jobs decoding at once; each holds a KV cache and advances one token per step
 * @param queueCapacity        jobs accepted but not yet started; {@link ContinuousBatchScheduler#submit} refuses more
 *                             (resumed jobs are not counted against it: they were accepted long ago)
 * @param kvBudgetBytes        KV bytes the active jobs may hold together; over it, the scheduler preempts jobs (lowest
 *                             priority first, then youngest) and admits queued ones only while they fit. 0: no budget
 * @param checkpointEveryTokens a running job is checkpointed after this many tokens since its last checkpoint; 0: never
 * @param checkpointInterval   ... or when this much time has passed since then; zero: never
 */
public record SchedulerConfig(int maxActiveJobs, int queueCapacity, long kvBudgetBytes, int checkpointEveryTokens,
                              Duration checkpointInterval) {
    public SchedulerConfig {
        if (maxActiveJobs <= 0) throw new IllegalArgumentException("max active jobs must be positive, got " + maxActiveJobs);
        if (queueCapacity <= 0) throw new IllegalArgumentException("queue capacity must be positive, got " + queueCapacity);
        if (kvBudgetBytes < 0) throw new IllegalArgumentException("the KV budget must be 0 (none) or positive, got " + kvBudgetBytes);
        if (checkpointEveryTokens < 0) {
            throw new IllegalArgumentException("checkpoint-every tokens must be 0 (never) or positive, got " + checkpointEveryTokens);
        }
        Objects.requireNonNull(checkpointInterval, "checkpointInterval");
        if (checkpointInterval.isNegative()) {
            throw new IllegalArgumentException("the checkpoint interval must be zero (never) or positive, got " + checkpointInterval);
        }
    }

    /** No KV budget and no periodic checkpoints. */
    public SchedulerConfig(int maxActiveJobs, int queueCapacity) {
        this(maxActiveJobs, queueCapacity, 0, 0, Duration.ZERO);
    }

    boolean checkpointsPeriodically() {
        return checkpointEveryTokens > 0 || checkpointInterval.isPositive();
    }
}
