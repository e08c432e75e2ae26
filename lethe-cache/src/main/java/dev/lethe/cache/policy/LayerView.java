package dev.lethe.cache.policy;

import dev.lethe.cache.KvLayout;

import java.lang.foreign.MemorySegment;

/**
 * What a policy sees of one layer of one sequence's cache: its dense slots, their original positions, the
 * per-slot policy state, and the keys (for policies that look at key redundancy).
 */
public interface LayerView {

    int layer();

    KvLayout layout();

    /** Retained tokens (slots {@code 0..length-1}). */
    int length();

    /** Tokens ever appended to this layer: the length a full cache would have now. */
    int fullLength();

    /** Original position of the token in this slot. */
    int position(int slot);

    /**
     * Per-slot policy state, {@link Scorer#width()} floats per slot: slot {@code s} owns
     * {@code scores()[s * width .. s * width + width - 1]}. The live array (a policy updates it in place); it may
     * be longer than {@code length * width}. New slots start at zero; compaction moves each slot's floats with it.
     */
    float[] scores();

    /** Keys of the first {@link #length} slots, float32 slot-major {@code [slot][kvHead][headDim]}. */
    MemorySegment keys();

    /** Values of the first {@link #length} slots, laid out like {@link #keys}. */
    MemorySegment values();
}
