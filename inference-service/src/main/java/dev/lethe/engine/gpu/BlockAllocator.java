package dev.lethe.engine.gpu;

/**
 * The free list of a paged KV pool's blocks (host side; the blocks' memory is on the device). A block holds
 * a fixed number of slots of one layer of one sequence; pruning returns whole blocks here, which is what lets
 * freed KV memory admit more sequences.
 */
final class BlockAllocator {
    private final int capacity;
    private final int[] free;
    private int freeCount;

    BlockAllocator(int capacity) {
        if (capacity <= 0) throw new IllegalArgumentException("a KV pool needs at least one block, got " + capacity);
        this.capacity = capacity;
        this.free = new int[capacity];
        // handed out from the low ids up, so a small run touches little memory
        for (int i = 0; i < capacity; i++) free[i] = capacity - 1 - i;
        this.freeCount = capacity;
    }

    int capacity() {
        return capacity;
    }

    int free() {
        return freeCount;
    }

    int used() {
        return capacity - freeCount;
    }

    /** A free block's id; the caller checks {@link #free} first (running dry is the scheduler's problem). */
    int allocate() {
        if (freeCount == 0) throw new IllegalStateException("the KV pool has no free block (" + capacity + " in use)");
        return free[--freeCount];
    }

    void release(int block) {
        if (block < 0 || block >= capacity) throw new IllegalArgumentException("block " + block + " is not in a pool of " + capacity);
        if (freeCount == capacity) throw new IllegalStateException("block " + block + " released into a pool with every block free");
        free[freeCount++] = block;
    }
}
