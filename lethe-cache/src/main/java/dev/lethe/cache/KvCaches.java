package dev.lethe.cache;

import dev.lethe.cache.policy.Policies;
import dev.lethe.cache.policy.PolicySpec;

/** Builds KV caches: one per sequence, each with its own instance of the chosen policy. */
public final class KvCaches {
    private KvCaches() {
    }

    /** A cache that never evicts. */
    public static OffHeapKvCache full(KvLayout layout) {
        return create(layout, PolicySpec.of("full"));
    }

    /** A cache with its own unbounded pool. */
    public static OffHeapKvCache create(KvLayout layout, PolicySpec spec) {
        return create(layout, spec, KvBlockPool.unbounded(layout));
    }

    /** A cache drawing its memory from a pool shared with other sequences of the same model. */
    public static OffHeapKvCache create(KvLayout layout, PolicySpec spec, KvBlockPool pool) {
        return new OffHeapKvCache(layout, Policies.create(spec, layout), pool);
    }
}
