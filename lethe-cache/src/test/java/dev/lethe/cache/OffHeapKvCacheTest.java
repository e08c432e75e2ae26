package dev.lethe.cache;

import dev.lethe.cache.policy.PolicySpec;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OffHeapKvCacheTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 1, 2); // 16 bytes per token per layer

    @Test
    void appendStoresRowsContiguouslyAndReturnsSlots() {
        try (var cache = KvCaches.full(new KvLayout(1, 3, 4))) {
            float[] key = new float[12];
            float[] value = new float[12];
            assertEquals(0, cache.append(0, 5, key, 0, value, 0));
            assertEquals(1, cache.append(0, 9, key, 0, value, 0));
            Synthetic.append(cache, 0, 10);
            assertEquals(3, cache.length(0));
            assertEquals(3L * 12 * Float.BYTES, cache.keys(0).byteSize());
            assertEquals(10, cache.position(0, 2));
            assertEquals(Synthetic.keyAt(10, 7), cache.keys(0).getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 2 * 12 + 7));
            assertEquals(Synthetic.valueAt(10, 11), cache.values(0).getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, 2 * 12 + 11));
        }
    }

    @Test
    void badCallsAreRefusedClearly() {
        try (var cache = KvCaches.full(LAYOUT)) {
            Synthetic.append(cache, 0, 4);
            var order = assertThrows(IllegalArgumentException.class, () -> Synthetic.append(cache, 0, 4));
            assertTrue(order.getMessage().contains("position 4"), order.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> cache.append(0, 9, new float[2], 1, new float[2], 0));
            assertThrows(IndexOutOfBoundsException.class, () -> cache.length(2));
            assertThrows(IndexOutOfBoundsException.class, () -> cache.position(0, 1));
            var probs = assertThrows(IllegalArgumentException.class, () -> cache.observeAttention(0, new float[3], 1, 4));
            assertTrue(probs.getMessage().contains("4 heads"), probs.getMessage());
            assertThrows(IllegalArgumentException.class, () -> KvCaches.create(LAYOUT, PolicySpec.full(),
                    KvBlockPool.unbounded(new KvLayout(3, 1, 2))));
        }
    }

    @Test
    void bytesHeldIsExactBlockAccountingAndDropsAfterPruning() {
        var pool = new KvBlockPool(LAYOUT, 4, Long.MAX_VALUE); // blocks of 4 tokens x 16 bytes = 64 bytes
        try (var cache = KvCaches.create(LAYOUT, PolicySpec.of("streamingllm", "budget", "10"), pool)) {
            assertEquals(0, cache.bytesHeld());
            List<Integer> blocks = new ArrayList<>();
            for (int p = 0; p < 100; p++) {
                Synthetic.append(cache, 0, p);
                int held = (int) (cache.bytesHeld(0) / 64);
                if (blocks.isEmpty() || blocks.getLast() != held) blocks.add(held);
                assertTrue(cache.bytesHeld(0) >= (p + 1) * 16L);
            }
            // growth by half again: 1, 2, 3, 4, 6, 9, 13, 19, 28
            assertEquals(List.of(1, 2, 3, 4, 6, 9, 13, 19, 28), blocks);
            assertEquals(cache.bytesHeld(), pool.usedBlocks() * pool.blockBytes());
            assertEquals(100 * 16L, cache.bytesRetained());
            long before = cache.bytesHeld();
            cache.endStep();
            assertEquals(10, cache.length(0));
            // ten survivors need 3 blocks, plus one of headroom
            assertEquals(4 * 64, cache.bytesHeld(0));
            assertTrue(cache.bytesHeld() < before);
            assertEquals(cache.bytesHeld(), pool.usedBlocks() * pool.blockBytes());
            Synthetic.assertRowsMatchPositions(cache);
        }
        assertEquals(0, pool.usedBlocks(), "close returns every block");
    }

    @Test
    void aFixedBudgetHoveringAtABlockBoundaryDoesNotReallocateEveryStep() {
        var pool = new KvBlockPool(LAYOUT, 4, Long.MAX_VALUE);
        try (var cache = KvCaches.create(new KvLayout(2, 1, 2), PolicySpec.of("streamingllm", "budget", "8"), pool)) {
            Synthetic.appendAll(cache, 0, 9);
            cache.endStep();
            long held = cache.bytesHeld();
            assertEquals(2 * 3 * 64, held, "8 survivors per layer: 2 blocks plus 1 of headroom");
            for (int p = 9; p < 40; p++) {
                Synthetic.appendAll(cache, p, p + 1);
                cache.endStep();
                assertEquals(held, cache.bytesHeld(), "steady at step " + p);
            }
        }
    }

    @Test
    void memoryFreedByPruningAdmitsAnotherSequence() {
        var layout = new KvLayout(1, 1, 2);
        var pool = new KvBlockPool(layout, 4, 10 * 64); // 10 blocks of 4 tokens
        try (var first = KvCaches.create(layout, PolicySpec.of("streamingllm", "budget", "8"), pool);
             var second = KvCaches.create(layout, PolicySpec.full(), pool)) {
            Synthetic.appendAll(first, 0, 40);
            assertEquals(10, pool.usedBlocks());
            var refused = assertThrows(KvPoolExhaustedException.class, () -> Synthetic.append(second, 0, 0));
            assertTrue(refused.getMessage().contains("0 of 10 free"), refused.getMessage());
            first.endStep();
            assertEquals(3, pool.usedBlocks(), "8 survivors: 2 blocks plus 1 of headroom");
            assertDoesNotThrow(() -> Synthetic.appendAll(second, 0, 20));
            assertEquals(3 + 6, pool.usedBlocks());
        }
        assertEquals(0, pool.usedBlocks());
    }

    @Test
    void closeReleasesEverythingAndLaterCallsAreRefused() {
        var pool = KvBlockPool.unbounded(LAYOUT);
        var pooled = KvCaches.create(LAYOUT, PolicySpec.full(), pool);
        Synthetic.appendAll(pooled, 0, 50);
        assertTrue(pool.usedBlocks() > 0);
        pooled.close();
        pooled.close();
        assertEquals(0, pool.usedBlocks());
        var e = assertThrows(IllegalStateException.class, () -> pooled.length(0));
        assertTrue(e.getMessage().contains("closed"));
    }

    @Test
    void hoyerSparsityOfOneHotIsOneAndOfUniformIsZero() {
        try (var cache = KvCaches.full(LAYOUT)) {
            Synthetic.appendAll(cache, 0, 9);
            cache.observeAttention(0, new float[]{0, 0, 0, 1, 0, 0, 0, 0, 0}, 1, 1);
            float[] uniform = new float[9];
            java.util.Arrays.fill(uniform, 1f / 9);
            cache.observeAttention(1, uniform, 1, 1);
            assertEquals(1.0, cache.hoyerSparsity(0), 1e-9);
            assertEquals(0.0, cache.hoyerSparsity(1), 1e-6);
            assertEquals(1.0, Hoyer.sparsity(new float[]{0, 2}, 2), 1e-12);
            // (1, 1, 1, 2): l1 = 5, l2 = sqrt 7, n = 4
            assertEquals((2 - 5 / Math.sqrt(7)) / (2 - 1), Hoyer.sparsity(new float[]{1, 1, 1, 2}, 4), 1e-9);
        }
    }

    @Test
    void historyAndMeanRetainedFractionFollowTheRun() {
        var history = new RetentionHistory();
        List<String> rounds = new ArrayList<>();
        try (var cache = KvCaches.create(new KvLayout(1, 1, 2), PolicySpec.of("streamingllm", "budget", "4"))) {
            cache.addListener(history);
            cache.addListener(new KvCacheListener() {
                @Override
                public void roundRun(long step, int layer, int before, int after) {
                    rounds.add(step + ":" + before + "->" + after);
                }
            });
            Synthetic.appendAll(cache, 0, 4);
            cache.endStep();
            Synthetic.appendAll(cache, 4, 5);
            cache.endStep();
            Synthetic.appendAll(cache, 5, 6);
            cache.endStep();
            assertEquals((1 + 4 / 5.0 + 4 / 6.0) / 3, cache.stats().meanRetainedFraction(), 1e-12);
            assertEquals(3, history.size());
            assertArrayEquals(new int[]{4, 4, 4}, history.retained(0));
            assertEquals(new RetentionHistory.Sample(2, 0, 4, 6), history.sample(2));
            assertEquals(List.of("1:5->4", "2:5->4"), rounds);
            assertEquals(2, cache.stats().totalRounds());
        }
    }
}
