package dev.lethe.cache.policy;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The selection half of an eviction policy: at the end of each step, for each layer, decides whether a round
 * runs and which slots survive it. One instance serves one sequence.
 */
public interface Selector {

    /** Called once per step before {@link #select} is called for each layer. */
    default void beginStep(SequenceView sequence) {
    }

    Selection select(LayerView layer, SequenceView sequence);

    default void writeState(DataOutput out) throws IOException {
    }

    default void readState(DataInput in) throws IOException {
    }
}
