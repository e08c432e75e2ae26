package dev.lethe.engine.scheduler;

import java.util.Objects;

/**
 * How a job that ran before, here or on another worker, continues instead of starting from its prompt.
 *
 * @param checkpoint       its newest checkpoint, or null when there is none (the job is recomputed)
 * @param delivered        the tokens its client already has (seq 0, 1, ...): the continuation is conditioned on
 *                         exactly these, whatever the checkpoint holds
 * @param estimatedKvBytes KV bytes it will hold once resumed, for the scheduler's KV budget (0 if unknown)
 */
public record Resumption(CheckpointSource checkpoint, int[] delivered, long estimatedKvBytes) {
    public Resumption {
        Objects.requireNonNull(delivered, "delivered");
        delivered = delivered.clone();
    }

    @Override
    public int[] delivered() {
        return delivered.clone();
    }
}
