package dev.lethe.engine.gpu;

import dev.lethe.cache.KvLayout;
import dev.lethe.engine.gguf.GgmlType;
import jcuda.driver.CUdeviceptr;

/**
 * The device memory of a paged KV pool: {@code blocks} blocks of {@code blockSize} slots; a slot holds one
 * token's keys of one layer (kvDim values, F32 or BF16) in {@link #keys}, its values in {@link #values} and,
 * when scoring, one float RASR score in {@link #scores}. Which block belongs to which sequence and layer is
 * the host's business ({@link BlockAllocator}, {@link SequenceBlocks}); the device reads it from a block table.
 */
public final class PagedKvPool implements AutoCloseable {
    private final GgmlType type;
    private final KvLayout layout;
    private final int blockSize;
    private final int blocks;
    private final DeviceBuffer keys, values, scores;
    private final BlockAllocator allocator;

    PagedKvPool(KvLayout layout, GgmlType type, int blockSize, int blocks, boolean scoring) {
        if (type != GgmlType.F32 && type != GgmlType.BF16) throw new IllegalArgumentException("KV pool type must be F32 or BF16, not " + type);
        if (blockSize < 1) throw new IllegalArgumentException("block size must be positive, got " + blockSize);
        this.type = type;
        this.layout = layout;
        this.blockSize = blockSize;
        this.blocks = blocks;
        long rows = (long) blocks * blockSize;
        this.allocator = new BlockAllocator(blocks);
        this.keys = DeviceBuffer.allocate(rows * rowBytes());
        DeviceBuffer v = null, s = null;
        try {
            v = DeviceBuffer.allocate(rows * rowBytes());
            s = scoring ? DeviceBuffer.allocate(rows * Float.BYTES) : null;
        } catch (RuntimeException e) {
            keys.close();
            if (v != null) v.close();
            throw e;
        }
        this.values = v;
        this.scores = s;
    }

    /** A pool of as many blocks as fit in {@code bytes} (keys, values and scores together). */
    public static PagedKvPool ofBytes(KvLayout layout, GgmlType type, int blockSize, long bytes, boolean scoring) {
        long perBlock = bytesPerBlock(layout, type, blockSize, scoring);
        long blocks = bytes / perBlock;
        if (blocks < 1 || blocks > Integer.MAX_VALUE / blockSize) {
            throw new IllegalArgumentException(bytes + " bytes make " + blocks + " KV blocks of " + perBlock + " bytes");
        }
        return new PagedKvPool(layout, type, blockSize, (int) blocks, scoring);
    }

    static long bytesPerBlock(KvLayout layout, GgmlType type, int blockSize, boolean scoring) {
        long elem = type == GgmlType.BF16 ? 2 : 4;
        return blockSize * (2 * layout.kvDim() * elem + (scoring ? Float.BYTES : 0));
    }

    GgmlType type() {
        return type;
    }

    public int blockSize() {
        return blockSize;
    }

    public int blocks() {
        return blocks;
    }

    public int freeBlocks() {
        return allocator.free();
    }

    public long bytes() {
        return (long) blocks * bytesPerBlock(layout, type, blockSize, scores != null);
    }

    BlockAllocator allocator() {
        return allocator;
    }

    /** Bytes of one slot's keys (or values). */
    long rowBytes() {
        return (long) layout.kvDim() * (type == GgmlType.BF16 ? 2 : 4);
    }

    DeviceBuffer keys() {
        return keys;
    }

    DeviceBuffer values() {
        return values;
    }

    DeviceBuffer scores() {
        return scores;
    }

    CUdeviceptr scoresOrNull() {
        return scores == null ? null : scores.pointer();
    }

    @Override
    public void close() {
        keys.close();
        values.close();
        if (scores != null) scores.close();
    }
}
