package dev.lethe.cache;

import java.lang.foreign.MemorySegment;

/**
 * The KV cache of one sequence, as the engine sees it: per-layer storage with ragged lengths (each layer
 * keeps its own set of positions) and an eviction policy that prunes it as decoding goes on.
 *
 * <p>Per step the engine, for every layer: {@link #append appends} the new tokens' rotated keys and values,
 * attends over {@link #keys}/{@link #values} for the first {@link #length} slots, and hands the resulting
 * attention probabilities to {@link #observeAttention}. After the last layer it calls {@link #endStep},
 * where the policy may run a pruning round. Slots are dense: after a round the survivors are compacted to
 * slots {@code 0..length-1} in their original order, and {@link #position} gives each one's original
 * position (keys are stored after RoPE, so they are never re-rotated).
 */
public interface KvCache extends AutoCloseable {

    KvLayout layout();

    /** Number of retained tokens in this layer. */
    int length(int layer);

    /** Original position (0-based token index in the sequence) of the token in this slot. */
    int position(int layer, int slot);

    /**
     * Stores one token's key (already rotated) and value: {@code kvDim} floats each, read from
     * {@code key[keyOffset..]} and {@code value[valueOffset..]}. Positions must increase within a layer.
     *
     * @return the slot the token was stored in
     */
    int append(int layer, int position, float[] key, int keyOffset, float[] value, int valueOffset);

    /**
     * Keys of this layer as float32, slot-major: slot {@code s}, KV head {@code h} starts at float index
     * {@code (s * kvHeads + h) * headDim}. Valid for the first {@link #length} slots until the next append
     * or {@link #endStep}.
     */
    MemorySegment keys(int layer);

    /** Values of this layer, laid out like {@link #keys}. */
    MemorySegment values(int layer);

    /**
     * This step's attention probabilities of one layer: {@code probabilities[(q * queryHeads + h) * length + slot]}
     * for each of the step's {@code queries} queries (one when decoding, a chunk when prefilling) and each
     * query head, over the {@code length = length(layer)} slots (masked slots hold 0).
     */
    void observeAttention(int layer, float[] probabilities, int queries, int queryHeads);

    /**
     * Tells the cache how many tokens the prompt has, before the first {@link #endStep}. Optional: a cache whose
     * policy depends on it (Lethe's initial threshold is prompt length + Δ) otherwise takes the number of
     * positions appended in the first step, which is wrong when the prompt is prefilled in several chunks.
     * No policy prunes before the declared prompt is complete: every policy sees the whole prompt.
     */
    default void declarePromptLength(int tokens) {
    }

    /** Ends a step: the policy may prune any layer here. */
    void endStep();

    /** Bytes of key and value data currently held for this sequence (all layers). */
    long bytesHeld();

    /** Releases the off-heap memory. */
    @Override
    void close();
}
