package dev.lethe.schemas;

import java.time.Instant;
import java.util.Objects;

/**
 * {@code lethe.control/v1}: a command for one job (topic {@code lethe.control}), carried out by the
 * worker that owns the job's partition.
 *
 * @param reason why, for the job's history and logs; may be null
 */
public record Control(String jobId, Command command, String reason, Instant issuedAt) implements Event {

    public enum Command {
        /** End the job; its state becomes CANCELLED. */
        CANCEL,
        /** Checkpoint the job, free its KV memory and mark it PREEMPTED until there is room. */
        PREEMPT,
        /** Write a checkpoint and keep running. */
        CHECKPOINT_NOW
    }

    public Control {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(issuedAt, "issuedAt");
    }
}
