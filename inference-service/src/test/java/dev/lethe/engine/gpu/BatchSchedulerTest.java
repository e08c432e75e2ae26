package dev.lethe.engine.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Continuous batching on the host: admission by free blocks, joins and leaves, preemption, freed blocks admitting. */
class BatchSchedulerTest {
    private static final int LAYERS = 3, BLOCK = 4, MAX_BLOCKS = 64;
    private final Random random = new Random();

    private static BatchSequence sequence(int id, int prompt, int generate) {
        return new BatchSequence(id, new int[prompt], generate, false);
    }

    /** Steps the scheduler until idle (no device), checking the invariants each step; returns the peak batch. */
    private static int drain(BatchScheduler s, BlockAllocator pool, int capacity) {
        int peak = 0;
        Set<Integer> slots = new HashSet<>();
        s.admit();
        while (!s.idle()) {
            List<BatchSequence> batch = s.prepareStep((index, block) -> { });
            slots.clear();
            for (BatchSequence b : batch) assertTrue(slots.add(b.slot), "two running sequences share slot " + b.slot);
            peak = Math.max(peak, batch.size());
            int held = 0;
            for (BatchSequence b : batch) held += b.blocks.heldBlocks();
            assertEquals(capacity - pool.free(), held, "blocks in use = blocks held by running sequences");
            s.advance(null);
            s.retireFinished();
            s.admit();
        }
        assertEquals(capacity, pool.free(), "every block back in the pool");
        return peak;
    }

    @Test
    void fullCacheReservesPeaksSoNothingIsEverPreempted() {
        int prompt = 10, generate = 30; // peak 39 slots = 10 blocks per layer = 30 blocks
        BlockAllocator pool = new BlockAllocator(100);
        BatchScheduler s = new BatchScheduler(pool, LAYERS, BLOCK, MAX_BLOCKS, 16, BatchPolicy.full());
        for (int i = 0; i < 7; i++) s.submit(sequence(i, prompt, generate));
        assertEquals(3, s.admit(), "floor(100 / 30) sequences fit");
        int peak = drain(s, pool, 100);
        assertEquals(3, peak);
        assertEquals(0, s.preemptions());
        assertEquals(7, s.finished().size());
        for (BatchSequence b : s.finished()) assertEquals(generate, b.generated());
    }

    @Test
    void joinsAndLeavesEveryStepWithMixedLengths() {
        BlockAllocator pool = new BlockAllocator(400);
        BatchScheduler s = new BatchScheduler(pool, LAYERS, BLOCK, MAX_BLOCKS, 8, BatchPolicy.full());
        int total = 0;
        for (int i = 0; i < 40; i++) {
            int g = 1 + random.nextInt(40);
            total += g;
            s.submit(sequence(i, 1 + random.nextInt(20), g));
        }
        int peak = drain(s, pool, 400);
        assertTrue(peak <= 8);
        int generated = 0;
        for (BatchSequence b : s.finished()) generated += b.generated();
        assertEquals(total, generated);
        assertEquals(0, s.preemptions());
    }

    @Test
    void withoutAPredictablePeakTheYoungestIsPreemptedAndStartsOver() {
        BatchPolicy unpredictable = new BatchPolicy("unpredictable", null, -1f, null);
        int capacity = 60; // each sequence peaks at 40 slots = 10 blocks x 3 layers = 30 blocks: two fit at the end
        BlockAllocator pool = new BlockAllocator(capacity);
        BatchScheduler s = new BatchScheduler(pool, LAYERS, BLOCK, MAX_BLOCKS, 16, unpredictable);
        for (int i = 0; i < 4; i++) s.submit(sequence(i, 4, 37));
        assertEquals(4, s.admit(), "prompt blocks + watermark admit all four at first");
        drain(s, pool, capacity);
        assertTrue(s.preemptions() > 0);
        long wasted = 0;
        for (BatchSequence b : s.finished()) {
            assertEquals(37, b.generated());
            wasted += b.wastedTokens();
        }
        assertEquals(4, s.finished().size());
        assertTrue(wasted > 0);
    }

    @Test
    void blocksFreedByCompactionAdmitAWaitingSequence() {
        BatchPolicy unpredictable = new BatchPolicy("unpredictable", null, -1f, null);
        BlockAllocator pool = new BlockAllocator(30);
        BatchScheduler s = new BatchScheduler(pool, LAYERS, BLOCK, MAX_BLOCKS, 4, unpredictable);
        s.submit(sequence(0, 30, 100));
        s.submit(sequence(1, 8, 5));
        assertEquals(1, s.admit());
        for (int step = 0; step < 30; step++) {
            s.prepareStep((i, b) -> { });
            s.advance(null);
        }
        BatchSequence first = s.running().getFirst();
        assertEquals(24, pool.used(), "30 slots = 8 blocks per layer");
        assertEquals(0, s.admit(), "6 free blocks: below 2 blocks x 3 layers of prompt + 3 of watermark");
        SequenceBlocks.RowMoves moves = new SequenceBlocks.RowMoves();
        for (int l = 0; l < LAYERS; l++) first.blocks.compact(l, new int[] {0, 1, 2, 3, 28, 29}, moves, pool);
        assertEquals(6, pool.used());
        assertEquals(1, s.admit(), "the freed blocks admit the waiting sequence");
        List<BatchSequence> running = new ArrayList<>(s.running());
        assertEquals(2, running.size());
    }

    @Test
    void stoppingEarlyReturnsEveryBlockAndKeepsWhatWasGenerated() {
        BatchPolicy unpredictable = new BatchPolicy("unpredictable", null, -1f, null);
        BlockAllocator pool = new BlockAllocator(200);
        BatchScheduler s = new BatchScheduler(pool, LAYERS, BLOCK, MAX_BLOCKS, 3, unpredictable);
        for (int i = 0; i < 5; i++) s.submit(sequence(i, 6, 50));
        assertEquals(3, s.admit(), "the batch limit admits three of five");
        int steps = 10 + random.nextInt(20);
        for (int step = 0; step < steps; step++) {
            s.prepareStep((i, b) -> { });
            s.advance(null);
        }
        assertTrue(pool.used() > 0);
        s.stop();
        assertTrue(s.idle());
        assertEquals(200, pool.free(), "every block back in the pool");
        assertEquals(5, s.stopped().size(), "the three running and the two waiting");
        long generated = 0;
        for (BatchSequence b : s.stopped()) generated += b.generated();
        assertEquals(3L * (steps - 5), generated, "each running sequence generated one token a step after its 6-token prompt");
        assertTrue(s.finished().isEmpty());
        // the slots are free again: a new run admits up to the batch limit
        s.submit(sequence(9, 6, 5));
        assertEquals(1, s.admit());
    }
}
