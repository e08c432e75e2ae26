package dev.lethe.engine.gpu;

import java.util.Arrays;

/**
 * One sequence's share of the paged KV pool (host side): per layer, its block list (the block table row the
 * device reads), its length and the original position of each slot. Appends take a block from the pool when
 * a block fills; a pruning round compacts the kept slots to the front and returns the emptied blocks.
 */
final class SequenceBlocks {
    private final int layers;
    private final int blockSize;
    private final int maxBlocks;
    private final int[][] blocks;
    private final int[] blockCount;
    private final int[] lengths;
    private final int[][] positions;
    private int held;

    SequenceBlocks(int layers, int blockSize, int maxBlocks) {
        if (layers <= 0 || blockSize <= 0 || maxBlocks <= 0) {
            throw new IllegalArgumentException("layers, block size and blocks per layer must be positive: " + layers + ", " + blockSize + ", " + maxBlocks);
        }
        this.layers = layers;
        this.blockSize = blockSize;
        this.maxBlocks = maxBlocks;
        this.blocks = new int[layers][8];
        this.blockCount = new int[layers];
        this.lengths = new int[layers];
        this.positions = new int[layers][64];
    }

    int layersCount() {
        return layers;
    }

    int length(int layer) {
        return lengths[layer];
    }

    int position(int layer, int slot) {
        if (slot < 0 || slot >= lengths[layer]) throw new IndexOutOfBoundsException("slot " + slot + " of " + lengths[layer]);
        return positions[layer][slot];
    }

    int block(int layer, int index) {
        return blocks[layer][index];
    }

    int blockCount(int layer) {
        return blockCount[layer];
    }

    /** Blocks held over all layers. */
    int heldBlocks() {
        return held;
    }

    long retainedTokens() {
        long sum = 0;
        for (int l : lengths) sum += l;
        return sum;
    }

    /** Blocks the next append (one token in every layer) takes from the pool. */
    int blocksForNextAppend() {
        int n = 0;
        for (int l = 0; l < layers; l++) if (lengths[l] == blockCount[l] * blockSize) n++;
        return n;
    }

    /** The pool row of a slot: its block's id times the block size plus the offset inside the block. */
    int row(int layer, int slot) {
        return blocks[layer][slot / blockSize] * blockSize + slot % blockSize;
    }

    /**
     * Appends position {@code position} to every layer, taking blocks from the pool where a block is full;
     * each new block-table entry is reported as (layer, index, block) to {@code changes}.
     */
    void append(int position, BlockAllocator pool, TableChanges changes) {
        for (int l = 0; l < layers; l++) {
            int length = lengths[l];
            if (length == blockCount[l] * blockSize) {
                if (blockCount[l] == maxBlocks) {
                    throw new IllegalStateException("layer " + l + " holds " + length + " slots, the block table's limit");
                }
                if (blockCount[l] == blocks[l].length) blocks[l] = Arrays.copyOf(blocks[l], blocks[l].length * 2);
                int block = pool.allocate();
                blocks[l][blockCount[l]] = block;
                changes.changed(l, blockCount[l], block);
                blockCount[l]++;
                held++;
            }
            if (length == positions[l].length) positions[l] = Arrays.copyOf(positions[l], length * 2);
            positions[l][length] = position;
            lengths[l] = length + 1;
        }
    }

    /**
     * A pruning round of one layer: the slots {@code keep} (strictly ascending) move to slots 0.. in order.
     * Adds the pool rows to move (from, to) to {@code moves} and returns the blocks past the new length to
     * the pool.
     */
    void compact(int layer, int[] keep, RowMoves moves, BlockAllocator pool) {
        int length = lengths[layer];
        for (int i = 0; i < keep.length; i++) {
            if (keep[i] < 0 || keep[i] >= length || (i > 0 && keep[i] <= keep[i - 1])) {
                throw new IllegalArgumentException("layer " + layer + ": kept slots must be strictly ascending below " + length
                        + ", got " + Arrays.toString(keep));
            }
        }
        for (int i = 0; i < keep.length; i++) {
            if (keep[i] != i) moves.add(row(layer, keep[i]), row(layer, i));
            positions[layer][i] = positions[layer][keep[i]];
        }
        lengths[layer] = keep.length;
        int needed = (keep.length + blockSize - 1) / blockSize;
        while (blockCount[layer] > needed) {
            pool.release(blocks[layer][--blockCount[layer]]);
            held--;
        }
    }

    /** Returns every block to the pool (the sequence finished or was preempted). */
    void releaseAll(BlockAllocator pool) {
        for (int l = 0; l < layers; l++) {
            while (blockCount[l] > 0) pool.release(blocks[l][--blockCount[l]]);
            lengths[l] = 0;
        }
        held = 0;
    }

    /** Receives block-table entries as they change. */
    interface TableChanges {
        void changed(int layer, int index, int block);
    }

    /** Pool rows to move, in order: each a (from, to) pair. */
    static final class RowMoves {
        private int[] from = new int[256], to = new int[256];
        private int count;

        void add(int fromRow, int toRow) {
            if (count == from.length) {
                from = Arrays.copyOf(from, count * 2);
                to = Arrays.copyOf(to, count * 2);
            }
            from[count] = fromRow;
            to[count] = toRow;
            count++;
        }

        int count() {
            return count;
        }

        int from(int i) {
            return from[i];
        }

        int to(int i) {
            return to[i];
        }

        void clear() {
            count = 0;
        }
    }
}
