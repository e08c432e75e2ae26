package dev.lethe.engine.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** How the paged attention is split over the device (host arithmetic only, no GPU needed). */
class BatchKernelsTest {
    private final Random random = new Random();

    @Test
    void splitsFillTheDeviceWithoutTinyBlocksAndFitTheWorkspace() {
        int target = BatchKernels.ATTENTION_TARGET_BLOCKS, min = BatchKernels.MIN_SLOTS_PER_SPLIT, max = BatchKernels.MAX_SLOTS_PER_SPLIT;
        for (int round = 0; round < 20_000; round++) {
            int n = 1 + random.nextInt(BatchKernels.MAX_ROWS), kvHeads = 1 << random.nextInt(4);
            int length = 1 + random.nextInt(random.nextBoolean() ? 1024 : 131_072);
            int per = BatchKernels.slotsPerSplit(length, n, kvHeads);
            String shape = "batch " + n + ", " + kvHeads + " KV heads, length " + length + ": " + per + " slots a split";
            assertEquals(0, per % 16, shape);
            assertTrue(per >= min && per <= max, shape);
            int splits = (length + per - 1) / per;
            long blocks = (long) n * kvHeads * splits;
            // the workspace is sized for splits of the fewest slots
            assertTrue(splits <= (length + min - 1) / min, shape);
            // below the most slots a block takes, the grid stays near the target: not many more blocks than it...
            if (per < max) assertTrue(blocks <= target + (long) n * kvHeads, shape + ", " + blocks + " blocks");
            // ...and, unless even the fewest slots a block takes leave it short, not fewer than about half of it
            if (per > min && per < max) assertTrue(blocks >= target * 8 / 17, shape + ", " + blocks + " blocks");
        }
    }

    @Test
    void theBenchmarksShapes() {
        // Llama-3-8B (8 KV heads) at the attention bucket 768 of a 641-slot context
        assertEquals(32, BatchKernels.slotsPerSplit(768, 1, 8));   // 24 splits, 192 blocks: latency-bound, short blocks
        assertEquals(96, BatchKernels.slotsPerSplit(768, 16, 8));  // 8 splits, 1024 blocks
        assertEquals(256, BatchKernels.slotsPerSplit(768, 64, 8)); // 3 splits, 1536 blocks
    }
}
