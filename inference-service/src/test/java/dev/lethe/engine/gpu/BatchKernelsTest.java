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

    @Test
    void secondKernelsFitOneWaveAndCoverEveryColumn() {
        for (int round = 0; round < 20_000; round++) {
            BatchKernels.Gemm g = random.nextBoolean() ? BatchKernels.Gemm.TALL : BatchKernels.Gemm.GRID;
            int rows = g.m * (1 + random.nextInt(random.nextBoolean() ? 40 : 600)), cols = 64 * (1 + random.nextInt(300));
            int splits = BatchKernels.splits(rows, cols, g), chunks = cols / 64, tiles = rows / g.m, slots = BatchKernels.MULTIPROCESSORS * g.perProcessor;
            int per = (chunks + splits - 1) / splits;
            String what = g + " " + rows + "x" + cols + ": " + splits + " splits";
            assertTrue(splits >= 1 && splits <= chunks, what);
            assertEquals(splits, (chunks + per - 1) / per, what + " (every split holds columns)");
            if (splits > 1) assertTrue((long) tiles * splits <= slots, what + ": more blocks than one wave");
            if (tiles >= slots) assertEquals(1, splits, what);
            assertTrue(BatchKernels.maxSplits(rows, cols) >= splits, what);
        }
    }

    @Test
    void llamaShapesOnTheSecondKernels() {
        // q|k|v 6144x4096, o 4096x4096, gate|up 28672x4096, down 4096x14336, output 128256x4096
        assertEquals(5, BatchKernels.splits(6144, 4096, BatchKernels.Gemm.TALL));   // 24 tiles x 5 = 120 blocks
        assertEquals(8, BatchKernels.splits(4096, 4096, BatchKernels.Gemm.TALL));   // 16 x 8 = 128
        assertEquals(1, BatchKernels.splits(28672, 4096, BatchKernels.Gemm.TALL));  // 112 blocks
        assertEquals(8, BatchKernels.splits(4096, 14336, BatchKernels.Gemm.TALL));  // 128 blocks of 28 chunks
        assertEquals(1, BatchKernels.splits(128256, 4096, BatchKernels.Gemm.TALL)); // the output: one split, as the argmax reads
        assertEquals(1, BatchKernels.splits(128256, 4096, BatchKernels.Gemm.GRID));
        assertEquals(5, BatchKernels.splits(6144, 4096, BatchKernels.Gemm.GRID));   // 48 x 5 = 240 of 264
        // the first kernel's rule is unchanged
        assertEquals(6, BatchKernels.splits(6144, 4096, BatchKernels.Gemm.V1));
        assertEquals(2, BatchKernels.splits(28672, 4096, BatchKernels.Gemm.V1));
    }

    @Test
    void kernelInstancesByBatch() {
        assertEquals(1, BatchKernels.Gemm.V1.unit(1));
        assertEquals(4, BatchKernels.Gemm.V1.unit(64));
        assertEquals(4, BatchKernels.Gemm.TALL.unit(49));
        assertEquals(8, BatchKernels.Gemm.TALL.unit(128));
        assertEquals(2, BatchKernels.Gemm.GRID.unit(33));  // 48 padded rows: two 32-row units, the last half padding
        assertEquals(4, BatchKernels.Gemm.GRID.unit(100));
        assertEquals(4, BatchKernels.Gemm.GRID.unit(128));
        for (BatchKernels.Gemm g : BatchKernels.Gemm.values()) assertEquals(g.units(), g.unit(BatchKernels.MAX_ROWS));
    }
}
