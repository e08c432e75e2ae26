package dev.lethe.cache.policy;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Objects;

/**
 * A KV eviction policy for one sequence: a {@link Scorer} plus a {@link Selector}, and the effective
 * specification (every parameter, defaults filled in) that a checkpoint records to rebuild it.
 *
 * @param version bumped when a policy's behaviour or state format changes, so an old checkpoint is refused
 */
public record EvictionPolicy(PolicySpec spec, int version, Scorer scorer, Selector selector) {

    public EvictionPolicy {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(scorer, "scorer");
        Objects.requireNonNull(selector, "selector");
    }

    public String name() {
        return spec.name();
    }

    public void writeState(DataOutput out) throws IOException {
        scorer.writeState(out);
        selector.writeState(out);
    }

    public void readState(DataInput in) throws IOException {
        scorer.readState(in);
        selector.readState(in);
    }
}
