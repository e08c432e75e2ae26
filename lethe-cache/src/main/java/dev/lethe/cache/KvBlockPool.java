package dev.lethe.cache;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory budget that the KV caches of many sequences share, counted in blocks. One block is
 * {@code blockTokens} tokens of one layer (keys and values): a cache reserves blocks before it grows a layer and
 * gives them back when a pruning round shrinks it, so memory that Lethe frees can admit more sequences
 * ({@link #freeBlocks()} is what a scheduler checks before admitting one).
 *
 * <p>On the CPU each layer's blocks are one contiguous buffer (see {@link OffHeapKvCache} for why); the pool
 * does the accounting, so that admission is decided on exact numbers. Thread-safe: sequences on different
 * threads draw from one pool.
 */
public final class KvBlockPool {
    private final KvLayout layout;
    private final int blockTokens;
    private final long totalBlocks;
    private final AtomicLong usedBlocks = new AtomicLong();

    /**
     * @param budgetBytes bytes of key and value data this pool may hand out; rounded down to whole blocks
     */
    public KvBlockPool(KvLayout layout, int blockTokens, long budgetBytes) {
        if (blockTokens <= 0) throw new IllegalArgumentException("blockTokens must be positive, got " + blockTokens);
        if (budgetBytes < 0) throw new IllegalArgumentException("budgetBytes must not be negative, got " + budgetBytes);
        this.layout = layout;
        this.blockTokens = blockTokens;
        this.totalBlocks = budgetBytes / (blockTokens * layout.bytesPerTokenPerLayer());
    }

    /** A pool with no practical limit (for a single sequence, a test or a benchmark). */
    public static KvBlockPool unbounded(KvLayout layout) {
        return new KvBlockPool(layout, 16, Long.MAX_VALUE);
    }

    public KvLayout layout() {
        return layout;
    }

    public int blockTokens() {
        return blockTokens;
    }

    /** Bytes of one block: {@code blockTokens} tokens of one layer, keys and values. */
    public long blockBytes() {
        return blockTokens * layout.bytesPerTokenPerLayer();
    }

    public long totalBlocks() {
        return totalBlocks;
    }

    public long usedBlocks() {
        return usedBlocks.get();
    }

    public long freeBlocks() {
        return totalBlocks - usedBlocks.get();
    }

    public long freeBytes() {
        return freeBlocks() * blockBytes();
    }

    /** Blocks that hold {@code tokens} tokens of one layer. */
    public int blocksFor(int tokens) {
        return Math.ceilDiv(tokens, blockTokens);
    }

    /** Reserves {@code blocks} blocks if that many are free; all or nothing. */
    public boolean tryAcquire(long blocks) {
        if (blocks < 0) throw new IllegalArgumentException("blocks must not be negative, got " + blocks);
        while (true) {
            long used = usedBlocks.get();
            if (blocks > totalBlocks - used) return false;
            if (usedBlocks.compareAndSet(used, used + blocks)) return true;
        }
    }

    public void release(long blocks) {
        if (blocks < 0) throw new IllegalArgumentException("blocks must not be negative, got " + blocks);
        long after = usedBlocks.addAndGet(-blocks);
        if (after < 0) throw new IllegalStateException("released more blocks than were acquired (" + after + ")");
    }

    @Override
    public String toString() {
        return "KvBlockPool[blockTokens=" + blockTokens + ", used=" + usedBlocks.get() + "/" + totalBlocks + " blocks]";
    }
}
