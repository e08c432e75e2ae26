package dev.lethe.engine.scheduler;

/**
 * @param maxActiveJobs  jobs decoding at once; each holds a KV cache and advances one token per step
 * @param queueCapacity  jobs accepted but not yet started; {@link ContinuousBatchScheduler#submit} refuses more
 */
public record SchedulerConfig(int maxActiveJobs, int queueCapacity) {
    public SchedulerConfig {
        if (maxActiveJobs <= 0) throw new IllegalArgumentException("max active jobs must be positive, got " + maxActiveJobs);
        if (queueCapacity <= 0) throw new IllegalArgumentException("queue capacity must be positive, got " + queueCapacity);
    }
}
