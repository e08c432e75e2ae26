package dev.lethe.engine.bench;

import dev.lethe.cache.KvCache;
import dev.lethe.cache.KvLayout;
import java.lang.foreign.MemorySegment;

/** A KV cache that counts the time spent in the policy's hooks (attention scoring and step ends). */
final class TimedKvCache implements KvCache {
    private final KvCache cache;
    private long policyNanos;

    TimedKvCache(KvCache cache) {
        this.cache = cache;
    }

    long policyNanos() {
        return policyNanos;
    }

    void resetTimer() {
        policyNanos = 0;
    }

    @Override
    public KvLayout layout() {
        return cache.layout();
    }

    @Override
    public int length(int layer) {
        return cache.length(layer);
    }

    @Override
    public int position(int layer, int slot) {
        return cache.position(layer, slot);
    }

    @Override
    public int append(int layer, int position, float[] key, int keyOffset, float[] value, int valueOffset) {
        return cache.append(layer, position, key, keyOffset, value, valueOffset);
    }

    @Override
    public MemorySegment keys(int layer) {
        return cache.keys(layer);
    }

    @Override
    public MemorySegment values(int layer) {
        return cache.values(layer);
    }

    @Override
    public void observeAttention(int layer, float[] probabilities, int queries, int queryHeads) {
        long t0 = System.nanoTime();
        cache.observeAttention(layer, probabilities, queries, queryHeads);
        policyNanos += System.nanoTime() - t0;
    }

    @Override
    public void declarePromptLength(int tokens) {
        cache.declarePromptLength(tokens);
    }

    @Override
    public void endStep() {
        long t0 = System.nanoTime();
        cache.endStep();
        policyNanos += System.nanoTime() - t0;
    }

    @Override
    public long bytesHeld() {
        return cache.bytesHeld();
    }

    @Override
    public void close() {
        cache.close();
    }
}
