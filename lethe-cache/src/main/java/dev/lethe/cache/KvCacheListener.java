package dev.lethe.cache;

/** Hears what a cache's policy does, as it happens (for metrics, traces and the benchmark's plots). */
public interface KvCacheListener {

    /** After every step, for every layer: its retained length and the length a full cache would have. */
    default void stepEnded(long step, int layer, int retained, int fullLength) {
    }

    /** A round pruned this layer from {@code before} to {@code after} tokens. */
    default void roundRun(long step, int layer, int before, int after) {
    }

    /** A round found no attention breakpoint in this layer and kept everything. */
    default void roundDeferred(long step, int layer, int length) {
    }
}
