package dev.lethe.schemas;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * {@code lethe.job-status/v1}: the latest state of one job (compacted topic {@code lethe.jobs}).
 * Each record replaces the previous one, so it carries the job's whole history.
 *
 * @param worker       the worker that owns (or last owned) the job, null before any worker ran it
 * @param lastSeq      seq of the last token delivered to {@code lethe.tokens}, -1 before the first
 * @param finishReason set when the job finished, otherwise null
 * @param error        set when the job failed, otherwise null
 * @param checkpoints  how the job's checkpoints are going on its worker; null until that worker tried one
 */
public record JobStatus(
        String jobId,
        String tenant,
        JobState state,
        String worker,
        long lastSeq,
        long promptTokens,
        long completionTokens,
        FinishReason finishReason,
        JobError error,
        List<JobEvent> history,
        Instant updatedAt,
        CheckpointStatus checkpoints) implements Event {

    public JobStatus {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(updatedAt, "updatedAt");
        history = List.copyOf(history);
    }

    /** A status without {@code checkpoints}. */
    public JobStatus(String jobId, String tenant, JobState state, String worker, long lastSeq, long promptTokens,
                     long completionTokens, FinishReason finishReason, JobError error, List<JobEvent> history,
                     Instant updatedAt) {
        this(jobId, tenant, state, worker, lastSeq, promptTokens, completionTokens, finishReason, error, history,
                updatedAt, null);
    }
}
