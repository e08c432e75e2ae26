package dev.lethe.schemas;

/** Where a job is in its life. COMPLETED, FAILED and CANCELLED are final. */
public enum JobState {
    /** Accepted, waiting for memory. */
    QUEUED,
    /** Decoding on a worker. */
    RUNNING,
    /** Checkpointed and stopped; resumed when there is room, here or on another worker. */
    PREEMPTED,
    COMPLETED,
    FAILED,
    CANCELLED;

    public boolean isFinal() {
        return this == COMPLETED || this == FAILED || this == CANCELLED;
    }
}
