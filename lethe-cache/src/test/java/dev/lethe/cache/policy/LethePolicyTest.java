package dev.lethe.cache.policy;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.Synthetic;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LethePolicyTest {
    private static final KvLayout ONE_LAYER = new KvLayout(1, 1, 2);

    private static LetheSelector selector(OffHeapKvCache cache) {
        return (LetheSelector) cache.policy().selector();
    }

    private static void observe(OffHeapKvCache cache, int layer, float... probabilities) {
        cache.observeAttention(layer, probabilities, 1, 1);
    }

    @Test
    void breakpointKeepsTopKPlusSinksAndRecentAndResetsThreshold() {
        var spec = PolicySpec.of("lethe", "delta", "0", "sinks", "1", "recent-ratio", "0.25", "segments", "4",
                "sparse-ratio", "10");
        try (var cache = KvCaches.create(ONE_LAYER, spec)) {
            Synthetic.appendAll(cache, 0, 12);
            cache.endStep();
            assertEquals(12, cache.promptLength());
            assertEquals(12, selector(cache).threshold(0), "T = prompt length + delta");
            assertEquals(12, cache.length(0), "12 is not above T = 12: no round");

            Synthetic.appendAll(cache, 12, 13);
            // len 13: sink slot 0, recent ceil(0.25*13) = 4 slots 9..12, m = 8 candidates in slots 1..8.
            // sorted v = .1 .09 .05 .04 .005 .004 .003 .002; boundaries k = 2, 4, 6; v[0]/τ = .01;
            // v[2] = .05 > .01, v[4] = .005 <= .01, so k = 4: the four largest survive.
            observe(cache, 0, 0.5f, 0.005f, 0.1f, 0.004f, 0.09f, 0.003f, 0.05f, 0.002f, 0.04f,
                    0.001f, 0.001f, 0.001f, 0.001f);
            cache.endStep();
            assertArrayEquals(new int[]{0, 2, 4, 6, 8, 9, 10, 11, 12}, Synthetic.positions(cache, 0));
            assertEquals(9, selector(cache).threshold(0), "T = len after the round + delta");
            assertEquals(1, cache.roundsRun(0));
            assertEquals(0, cache.roundsDeferred(0));
            float[] scores = cache.layerView(0).scores();
            assertArrayEquals(new float[]{0.5f, 0.1f, 0.09f, 0.05f, 0.04f, 0.001f, 0.001f, 0.001f, 0.001f},
                    java.util.Arrays.copyOf(scores, 9), "scores move with their slots");
            Synthetic.assertRowsMatchPositions(cache);
        }
    }

    @Test
    void keepPromptProtectsTheWholePromptLikeSinks() {
        // Prompt of 4 (slots 0..3, barely attended), then 9 solution tokens in one step: len 13, recent 4 (9..12).
        float[] attention = {0.5f, 0.0001f, 0.0001f, 0.0001f, 0.1f, 0.09f, 0.002f, 0.001f, 0.0005f,
                0.001f, 0.001f, 0.001f, 0.001f};
        for (boolean keepPrompt : new boolean[]{false, true}) {
            var spec = PolicySpec.of("lethe", "delta", "0", "sinks", "1", "recent-ratio", "0.25", "segments", "4",
                    "sparse-ratio", "10", "keep-prompt", Boolean.toString(keepPrompt));
            try (var cache = KvCaches.create(ONE_LAYER, spec)) {
                cache.declarePromptLength(4);
                Synthetic.appendAll(cache, 0, 4);
                cache.endStep();
                Synthetic.appendAll(cache, 4, 13);
                observe(cache, 0, attention);
                cache.endStep();
                // Either way the breakpoint keeps the top 2 candidates (v[2] = .002 <= .1/10): slots 4 and 5.
                int[] expected = keepPrompt ? new int[]{0, 1, 2, 3, 4, 5, 9, 10, 11, 12} : new int[]{0, 4, 5, 9, 10, 11, 12};
                assertArrayEquals(expected, Synthetic.positions(cache, 0), "keep-prompt " + keepPrompt);
                Synthetic.assertRowsMatchPositions(cache);
            }
        }
    }

    @Test
    void rasrDecaysOldScoresAndStartsNewPositionsAtTheirFirstMass() {
        try (var cache = KvCaches.create(ONE_LAYER, PolicySpec.of("lethe", "gamma", "0.5"))) {
            Synthetic.appendAll(cache, 0, 2);
            observe(cache, 0, 0.25f, 0.75f);
            cache.endStep();
            Synthetic.appendAll(cache, 2, 3);
            observe(cache, 0, 0.5f, 0.125f, 0.375f);
            float[] s = cache.layerView(0).scores();
            assertEquals(0.5f * 0.25f + 0.5f, s[0]);
            assertEquals(0.5f * 0.75f + 0.125f, s[1]);
            assertEquals(0.375f, s[2], "a new position starts at its first attention mass");
        }
    }

    @Test
    void relevanceSumsOverQueryHeadsAndTheStepsQueries() {
        try (var cache = KvCaches.create(ONE_LAYER, PolicySpec.of("lethe", "gamma", "0"))) {
            Synthetic.appendAll(cache, 0, 3);
            // 2 queries x 2 heads over 3 slots; the first query cannot see slot 2
            float[] probs = {
                    0.5f, 0.5f, 0, /* q0 h0 */ 0.25f, 0.75f, 0, /* q0 h1 */
                    0.5f, 0.25f, 0.25f, /* q1 h0 */ 0, 0.5f, 0.5f /* q1 h1 */};
            cache.observeAttention(0, probs, 2, 2);
            float[] s = cache.layerView(0).scores();
            assertArrayEquals(new float[]{1.25f, 2.0f, 0.75f}, java.util.Arrays.copyOf(s, 3));
        }
    }

    @Test
    void uniformAttentionPrunesNothingAndDoublesTheThreshold() {
        try (var cache = KvCaches.create(ONE_LAYER, PolicySpec.of("lethe", "delta", "4"))) {
            Synthetic.appendAll(cache, 0, 20);
            cache.endStep();
            assertEquals(24, selector(cache).threshold(0));
            for (int p = 20; p < 100; p++) {
                Synthetic.appendAll(cache, p, p + 1);
                int n = cache.length(0);
                float[] uniform = new float[n];
                java.util.Arrays.fill(uniform, 1f / n);
                observe(cache, 0, uniform);
                cache.endStep();
                assertEquals(p + 1, cache.length(0), "nothing pruned at step with position " + p);
            }
            // deferred at length 25 (T 24 -> 48), 49 (T 48 -> 96) and 97 (T 96 -> 192)
            assertEquals(3, cache.roundsDeferred(0));
            assertEquals(0, cache.roundsRun(0));
            assertEquals(192, selector(cache).threshold(0));
            assertEquals(0.0, cache.hoyerSparsity(0), 1e-6, "uniform attention has Hoyer sparsity 0");
        }
    }

    @Test
    void concentratedLayersKeepFewerTokensThanFlatOnes() {
        var layout = new KvLayout(2, 1, 2);
        var random = new Random(7);
        try (var cache = KvCaches.create(layout, PolicySpec.of("lethe", "delta", "16"))) {
            Synthetic.appendAll(cache, 0, 64);
            cache.endStep();
            for (int p = 64; p < 200; p++) {
                Synthetic.appendAll(cache, p, p + 1);
                Synthetic.observe(cache, 0, 1, 4, 4.0, random);
                Synthetic.observe(cache, 1, 1, 4, 0.0, random);
                cache.endStep();
            }
            assertTrue(cache.roundsRun(0) > 0, "the concentrated layer pruned");
            assertEquals(0, cache.roundsRun(1), "the flat layer never found a breakpoint");
            assertTrue(cache.roundsDeferred(1) > 0);
            assertTrue(cache.length(0) < cache.length(1) / 2, cache.length(0) + " vs " + cache.length(1));
            assertTrue(cache.hoyerSparsity(0) > cache.hoyerSparsity(1));
            Synthetic.assertRowsMatchPositions(cache);
        }
    }

    @Test
    void tokenCapTightensTauAndForcesRounds() {
        var random = new Random(3);
        // a threshold far away (delta 10000): only the cap can trigger a round
        try (var cache = KvCaches.create(ONE_LAYER, PolicySpec.of("lethe", "delta", "10000", "token-cap", "40"))) {
            Synthetic.appendAll(cache, 0, 100);
            Synthetic.observe(cache, 0, 1, 4, 1.0, random);
            cache.endStep();
            assertTrue(selector(cache).effectiveTau() < 400);
            assertEquals(1, cache.roundsRun(0) + cache.roundsDeferred(0), "a forced round ran");
            for (int p = 100; p < 140; p++) {
                Synthetic.appendAll(cache, p, p + 1);
                Synthetic.observe(cache, 0, 1, 4, 1.0, random);
                cache.endStep();
            }
            assertTrue(cache.roundsRun(0) >= 2, "rounds: " + cache.roundsRun(0));
            assertTrue(cache.length(0) < 100, "retained " + cache.length(0));
        }
        try (var uncapped = KvCaches.create(ONE_LAYER, PolicySpec.of("lethe", "delta", "10000"))) {
            Synthetic.appendAll(uncapped, 0, 100);
            Synthetic.observe(uncapped, 0, 1, 4, 1.0, random);
            uncapped.endStep();
            assertEquals(0, uncapped.roundsRun(0) + uncapped.roundsDeferred(0), "without a cap no round runs");
        }
    }

    @Test
    void declaredPromptLengthSetsTheInitialThresholdForChunkedPrefill() {
        try (var cache = KvCaches.create(ONE_LAYER, PolicySpec.of("lethe", "delta", "8"))) {
            cache.declarePromptLength(30);
            Synthetic.appendAll(cache, 0, 10);
            cache.endStep();
            assertEquals(30, cache.promptLength(), "not the 10 positions of the first chunk");
            assertEquals(-1, selector(cache).threshold(0), "the policy is not consulted while the prompt comes in");
            Synthetic.appendAll(cache, 10, 30);
            cache.endStep();
            assertEquals(38, selector(cache).threshold(0));
        }
    }
}
