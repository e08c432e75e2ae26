package dev.lethe.cache;

import dev.lethe.cache.policy.LayerView;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * One layer of one sequence's cache: contiguous off-heap keys and values, each slot's original position and
 * policy state, and the blocks reserved for them in the {@link KvBlockPool}.
 *
 * <p>Capacity is a whole number of pool blocks. Growing reserves blocks and moves the data into a buffer half
 * again as large (amortised O(1) copying, at most a third of the capacity idle); compaction moves the
 * survivors, in order, into a buffer sized to them plus one block of headroom and returns the rest, so a
 * round's freed memory is back in the pool at once. The one block of headroom stops a layer that hovers at a
 * block boundary (a fixed-budget policy evicting one token per step) from reallocating every step.
 */
final class LayerStore implements LayerView {
    private final int layer;
    private final KvLayout layout;
    private final KvBlockPool pool;
    private final int scoreWidth;
    private final long rowBytes;

    private Arena arena;
    private MemorySegment keys = MemorySegment.NULL;
    private MemorySegment values = MemorySegment.NULL;
    private int capacityBlocks;
    private int length;
    private int fullLength;
    private int lastPosition = -1;
    private int[] positions = new int[0];
    private float[] scores = new float[0];

    LayerStore(int layer, KvLayout layout, KvBlockPool pool, int scoreWidth) {
        this.layer = layer;
        this.layout = layout;
        this.pool = pool;
        this.scoreWidth = scoreWidth;
        this.rowBytes = (long) layout.kvDim() * Float.BYTES;
    }

    @Override
    public int layer() {
        return layer;
    }

    @Override
    public KvLayout layout() {
        return layout;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public int fullLength() {
        return fullLength;
    }

    @Override
    public int position(int slot) {
        if (slot < 0 || slot >= length) {
            throw new IndexOutOfBoundsException("slot " + slot + " of layer " + layer + " with length " + length);
        }
        return positions[slot];
    }

    @Override
    public float[] scores() {
        return scores;
    }

    int scoreWidth() {
        return scoreWidth;
    }

    @Override
    public MemorySegment keys() {
        return keys.asSlice(0, length * rowBytes);
    }

    @Override
    public MemorySegment values() {
        return values.asSlice(0, length * rowBytes);
    }

    long bytesHeld() {
        return capacityBlocks * pool.blockBytes();
    }

    int capacityTokens() {
        return capacityBlocks * pool.blockTokens();
    }

    int append(int position, float[] key, int keyOffset, float[] value, int valueOffset) {
        int kvDim = layout.kvDim();
        if (position <= lastPosition) {
            throw new IllegalArgumentException("layer " + layer + ": position " + position
                    + " must be greater than the last appended position " + lastPosition);
        }
        if (keyOffset < 0 || keyOffset > key.length - kvDim) {
            throw new IndexOutOfBoundsException("key offset " + keyOffset + " + kvDim " + kvDim + " exceeds key length " + key.length);
        }
        if (valueOffset < 0 || valueOffset > value.length - kvDim) {
            throw new IndexOutOfBoundsException("value offset " + valueOffset + " + kvDim " + kvDim + " exceeds value length " + value.length);
        }
        if (length == capacityTokens()) grow();
        int slot = length;
        MemorySegment.copy(key, keyOffset, keys, JAVA_FLOAT, slot * rowBytes, kvDim);
        MemorySegment.copy(value, valueOffset, values, JAVA_FLOAT, slot * rowBytes, kvDim);
        positions[slot] = position;
        Arrays.fill(scores, slot * scoreWidth, (slot + 1) * scoreWidth, 0f);
        lastPosition = position;
        fullLength++;
        length++;
        return slot;
    }

    private void grow() {
        int wanted = Math.max(capacityBlocks + Math.max(1, capacityBlocks / 2), 1);
        int needed = capacityBlocks + 1;
        if (!pool.tryAcquire(wanted - capacityBlocks)) {
            wanted = needed;
            if (!pool.tryAcquire(1)) {
                throw new KvPoolExhaustedException("KV pool exhausted: layer " + layer + " needs one more block of "
                        + pool.blockBytes() + " bytes, " + pool.freeBlocks() + " of " + pool.totalBlocks() + " free");
            }
        }
        int[] all = new int[length];
        Arrays.setAll(all, i -> i);
        moveInto(wanted, all);
    }

    /**
     * Keeps exactly the given slots (strictly ascending), in order, at slots {@code 0..keep.length-1}, and returns
     * the blocks the survivors no longer need to the pool.
     */
    void compact(int[] keep) {
        for (int i = 0; i < keep.length; i++) {
            if (keep[i] < 0 || keep[i] >= length || (i > 0 && keep[i] <= keep[i - 1])) {
                throw new IllegalArgumentException("layer " + layer + ": keep set must be strictly ascending slots below "
                        + length + ", got " + keep[i] + " at index " + i);
            }
        }
        int target = pool.blocksFor(keep.length) + 1;
        if (target < capacityBlocks) {
            int freed = capacityBlocks - target;
            moveInto(target, keep);
            pool.release(freed);
        } else {
            gather(keys, keys, keep);
            gather(values, values, keep);
            gatherSlotData(positions, scores, keep);
        }
        length = keep.length;
    }

    /** Moves the given slots into fresh buffers of {@code blocks} blocks (already accounted for in the pool). */
    private void moveInto(int blocks, int[] slots) {
        int tokens = blocks * pool.blockTokens();
        Arena next = Arena.ofShared();
        MemorySegment newKeys = next.allocate(tokens * rowBytes, 64);
        MemorySegment newValues = next.allocate(tokens * rowBytes, 64);
        gather(keys, newKeys, slots);
        gather(values, newValues, slots);
        int[] newPositions = new int[tokens];
        float[] newScores = new float[tokens * scoreWidth];
        for (int i = 0; i < slots.length; i++) {
            newPositions[i] = positions[slots[i]];
            System.arraycopy(scores, slots[i] * scoreWidth, newScores, i * scoreWidth, scoreWidth);
        }
        if (arena != null) arena.close();
        arena = next;
        keys = newKeys;
        values = newValues;
        positions = newPositions;
        scores = newScores;
        capacityBlocks = blocks;
    }

    /** Copies rows {@code slots[i]} of {@code from} to row {@code i} of {@code to}, a run of adjacent slots at a time. */
    private void gather(MemorySegment from, MemorySegment to, int[] slots) {
        int i = 0;
        while (i < slots.length) {
            int run = 1;
            while (i + run < slots.length && slots[i + run] == slots[i] + run) run++;
            // rows only ever move towards slot 0, so an in-place copy is safe (MemorySegment.copy is memmove)
            MemorySegment.copy(from, slots[i] * rowBytes, to, i * rowBytes, run * rowBytes);
            i += run;
        }
    }

    private void gatherSlotData(int[] positions, float[] scores, int[] slots) {
        for (int i = 0; i < slots.length; i++) {
            positions[i] = positions[slots[i]];
            System.arraycopy(scores, slots[i] * scoreWidth, scores, i * scoreWidth, scoreWidth);
        }
    }

    /**
     * Replaces an empty layer's contents with a checkpoint's: reserves room for {@code positions.length} tokens
     * and returns with {@link #keys}/{@link #values} sized for them, ready to be filled.
     */
    void restore(int[] restoredPositions, int restoredFullLength, int restoredLastPosition) {
        if (length != 0 || fullLength != 0) throw new IllegalStateException("layer " + layer + " is not empty");
        int n = restoredPositions.length;
        for (int i = 1; i < n; i++) {
            if (restoredPositions[i] <= restoredPositions[i - 1]) {
                throw new IllegalArgumentException("layer " + layer + ": restored positions must increase, slot " + i);
            }
        }
        if (restoredFullLength < n) {
            throw new IllegalArgumentException("layer " + layer + ": full length " + restoredFullLength + " below retained " + n);
        }
        if (n > 0 && restoredLastPosition < restoredPositions[n - 1]) {
            throw new IllegalArgumentException("layer " + layer + ": last position " + restoredLastPosition
                    + " below the last retained position " + restoredPositions[n - 1]);
        }
        int blocks = pool.blocksFor(n) + 1;
        if (!pool.tryAcquire(blocks)) {
            throw new KvPoolExhaustedException("KV pool exhausted: restoring layer " + layer + " needs " + blocks
                    + " blocks, " + pool.freeBlocks() + " free");
        }
        moveInto(blocks, new int[0]);
        System.arraycopy(restoredPositions, 0, positions, 0, n);
        length = n;
        fullLength = restoredFullLength;
        lastPosition = restoredLastPosition;
    }

    int lastPosition() {
        return lastPosition;
    }

    void close() {
        if (arena != null) {
            arena.close();
            arena = null;
            pool.release(capacityBlocks);
        }
        capacityBlocks = 0;
        keys = MemorySegment.NULL;
        values = MemorySegment.NULL;
        length = 0;
    }
}
