package dev.lethe.engine.scheduler;

/** Why a job left the scheduler before ending. */
public enum PreemptReason {
    /** Someone asked (a PREEMPT command). */
    REQUESTED,
    /** The scheduler needed its KV memory (over the budget, or for higher-priority work). */
    MEMORY,
    /** The job is moving to another worker (its partition was revoked, or this worker is stopping). */
    HANDOVER,
    /** This worker lost the job without a goodbye (its partition was taken away): no checkpoint is taken. */
    LOST
}
