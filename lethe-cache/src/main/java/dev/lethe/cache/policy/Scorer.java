package dev.lethe.cache.policy;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The scoring half of an eviction policy (kvpress's "scorer"): turns each step's observed attention into
 * per-slot state kept in {@link LayerView#scores()}. One instance serves one sequence.
 */
public interface Scorer {

    /** Floats of state per slot (0 for policies that need none). */
    int width();

    /**
     * One layer's attention of one step.
     *
     * @param probabilities {@code [(q * queryHeads + h) * length + slot]}, as the engine hands it over
     * @param relevance     the same attention summed over query heads and queries: {@code relevance[slot]}
     *                      for {@code slot < layer.length()} (Lethe's a_t)
     */
    void observe(LayerView layer, float[] probabilities, int queries, int queryHeads, float[] relevance);

    /** Writes state not held per slot (e.g. counters) for a checkpoint. */
    default void writeState(DataOutput out) throws IOException {
    }

    default void readState(DataInput in) throws IOException {
    }

    /** A scorer that keeps no state (for policies that ignore attention). */
    Scorer NONE = new Scorer() {
        @Override
        public int width() {
            return 0;
        }

        @Override
        public void observe(LayerView layer, float[] probabilities, int queries, int queryHeads, float[] relevance) {
        }
    };
}
