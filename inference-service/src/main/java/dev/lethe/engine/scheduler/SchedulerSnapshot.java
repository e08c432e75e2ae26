package dev.lethe.engine.scheduler;

/**
 * The scheduler's state after its latest step, readable from any thread (for metrics and health).
 *
 * @param kvBytesRetained key and value bytes the active jobs' caches hold for their retained tokens
 * @param kvBytesFull     what full caches (no eviction) would hold for the same jobs
 * @param steps           decode steps run so far
 */
public record SchedulerSnapshot(int queued, int active, long kvBytesRetained, long kvBytesFull, long steps) {
    static final SchedulerSnapshot EMPTY = new SchedulerSnapshot(0, 0, 0, 0, 0);
}
