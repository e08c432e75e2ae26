package dev.lethe.cache.policy;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.Synthetic;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Small cases whose outcome can be checked by hand, one or more per baseline policy. */
class BaselinePoliciesTest {
    private static final KvLayout ONE_LAYER = new KvLayout(1, 1, 2);

    private static OffHeapKvCache cache(String name, String... parameters) {
        return KvCaches.create(ONE_LAYER, PolicySpec.of(name, parameters));
    }

    @Test
    void fullNeverEvicts() {
        var random = new Random(1);
        try (var cache = KvCaches.full(ONE_LAYER)) {
            for (int p = 0; p < 500; p++) {
                Synthetic.appendAll(cache, p, p + 1);
                Synthetic.observe(cache, 0, 1, 2, 5.0, random);
                cache.endStep();
            }
            assertEquals(500, cache.length(0));
            assertEquals(0, cache.roundsRun(0));
        }
    }

    @Test
    void streamingLlmKeepsSinksAndTheLatestWindow() {
        try (var cache = cache("streamingllm", "sinks", "2", "budget", "6")) {
            Synthetic.appendAll(cache, 0, 10);
            cache.endStep();
            assertArrayEquals(new int[]{0, 1, 6, 7, 8, 9}, Synthetic.positions(cache, 0));
            Synthetic.appendAll(cache, 10, 11);
            cache.endStep();
            assertArrayEquals(new int[]{0, 1, 7, 8, 9, 10}, Synthetic.positions(cache, 0));
            Synthetic.assertRowsMatchPositions(cache);
        }
        try (var cache = cache("streamingllm", "sinks", "2", "window", "4")) {
            Synthetic.appendAll(cache, 0, 10);
            cache.endStep();
            assertArrayEquals(new int[]{0, 1, 6, 7, 8, 9}, Synthetic.positions(cache, 0), "window 4 = budget 6");
        }
    }

    @Test
    void streamingLlmWithKeepPromptKeepsTheWholePromptAsSinks() {
        try (var cache = cache("streamingllm", "sinks", "2", "budget", "6", "keep-prompt", "true")) {
            cache.declarePromptLength(4);
            Synthetic.appendAll(cache, 0, 4);
            cache.endStep();
            Synthetic.appendAll(cache, 4, 10);
            cache.endStep();
            assertArrayEquals(new int[]{0, 1, 2, 3, 8, 9}, Synthetic.positions(cache, 0), "the prompt and the newest 2");
            Synthetic.assertRowsMatchPositions(cache);
        }
    }

    @Test
    void graceKeepsTheBudgetAtLeastPromptPlusGrace() {
        try (var cache = cache("streamingllm", "sinks", "2", "budget-ratio", "0.5", "grace", "3")) {
            cache.declarePromptLength(6);
            Synthetic.appendAll(cache, 0, 6);
            cache.endStep();
            assertEquals(6, cache.length(0), "a budget of 3 would cut the prompt; the floor is 6 + 3");
            for (int p = 6; p < 10; p++) {
                Synthetic.appendAll(cache, p, p + 1);
                cache.endStep();
            }
            assertArrayEquals(new int[]{0, 1, 3, 4, 5, 6, 7, 8, 9}, Synthetic.positions(cache, 0), "10 tokens, floor 9");
            for (int p = 10; p < 30; p++) {
                Synthetic.appendAll(cache, p, p + 1);
                cache.endStep();
            }
            assertEquals(15, cache.length(0), "past the floor the ratio rules: half of 30");
        }
    }

    @Test
    void noPolicyPrunesBeforeTheDeclaredPromptIsIn() {
        try (var cache = cache("streamingllm", "sinks", "2", "budget-ratio", "0.5")) {
            cache.declarePromptLength(12);
            Synthetic.appendAll(cache, 0, 8);
            cache.endStep();
            assertEquals(8, cache.length(0), "the first prefill chunk stays whole");
            Synthetic.appendAll(cache, 8, 12);
            cache.endStep();
            assertArrayEquals(new int[]{0, 1, 8, 9, 10, 11}, Synthetic.positions(cache, 0), "pruned once the prompt is in");
        }
    }

    @Test
    void h2oKeepsHeavyHittersByAccumulatedAttentionPlusRecent() {
        try (var cache = cache("h2o", "budget", "4", "recent-ratio", "0.5")) {
            Synthetic.appendAll(cache, 0, 6);
            cache.observeAttention(0, new float[]{0.1f, 0.4f, 0.05f, 0.3f, 0.1f, 0.05f}, 1, 1);
            cache.endStep();
            // recent: positions 4, 5; heavy among 0..3: 1 (.4) and 3 (.3)
            assertArrayEquals(new int[]{1, 3, 4, 5}, Synthetic.positions(cache, 0));
            Synthetic.appendAll(cache, 6, 7);
            cache.observeAttention(0, new float[]{0.1f, 0f, 0.5f, 0.2f, 0.2f}, 1, 1);
            cache.endStep();
            // accumulated: 1 -> .5, 3 -> .3, 4 -> .6; recent 5, 6; heavy 4 and 1
            assertArrayEquals(new int[]{1, 4, 5, 6}, Synthetic.positions(cache, 0));
        }
    }

    @Test
    void budgetRatioIsAFractionOfTheFullLength() {
        try (var cache = cache("h2o", "budget-ratio", "0.5")) {
            Synthetic.appendAll(cache, 0, 10);
            cache.endStep();
            assertEquals(5, cache.length(0));
            Synthetic.appendAll(cache, 10, 14);
            cache.endStep();
            assertEquals(7, cache.length(0), "half of 14");
        }
    }

    @Test
    void tovaKeepsTheBudgetByTheLastQueryHeadAveragedAttention() {
        try (var cache = cache("tova", "budget", "3")) {
            Synthetic.appendAll(cache, 0, 6);
            float[] probs = {
                    1, 0, 0, 0, 0, 0, /* q0 h0: ignored, not the last query */
                    1, 0, 0, 0, 0, 0, /* q0 h1 */
                    0, 0.2f, 0.1f, 0.4f, 0.2f, 0.1f, /* q1 h0 */
                    0, 0.3f, 0.1f, 0.3f, 0.2f, 0.2f /* q1 h1 */};
            cache.observeAttention(0, probs, 2, 2);
            cache.endStep();
            // averages 0 .25 .1 .35 .2 .15: top three are positions 3, 1, 4
            assertArrayEquals(new int[]{1, 3, 4}, Synthetic.positions(cache, 0));
            Synthetic.appendAll(cache, 6, 7);
            cache.observeAttention(0, new float[]{0.5f, 0.1f, 0.2f, 0.2f}, 1, 1);
            cache.endStep();
            // this step's attention replaces the old scores: 1 (.5), 4 (.2) and 6 (.2) survive, 3 (.1) goes
            assertArrayEquals(new int[]{1, 4, 6}, Synthetic.positions(cache, 0));
        }
    }

    private static final float[] SNAP_ROWS = {
            0.15f, 0.3f, 0, 0, 0.2f, 0.1f, 0.1f, 0.15f, /* query 0 */
            0.2f, 0, 0.1f, 0, 0.3f, 0.1f, 0.1f, 0.2f /* query 1 */};

    @Test
    void snapKvKeepsTheObservationWindowAndTheMostAttendedByTheWindow() {
        try (var cache = cache("snapkv", "budget", "5", "window", "2", "kernel", "1", "interval", "4")) {
            Synthetic.appendAll(cache, 0, 8);
            cache.observeAttention(0, SNAP_ROWS, 2, 1);
            cache.endStep();
            // window slots 6, 7 stay; importance of 0..5 = .35 .3 .1 0 .5 .2: top three 4, 0, 1
            assertArrayEquals(new int[]{0, 1, 4, 6, 7}, Synthetic.positions(cache, 0));

            Synthetic.appendAll(cache, 8, 11);
            cache.endStep();
            assertEquals(8, cache.length(0), "3 tokens since the last compression: below the interval of 4");
            Synthetic.appendAll(cache, 11, 12);
            cache.endStep();
            assertEquals(5, cache.length(0), "4 tokens since the last compression: compressed to the budget");
        }
    }

    @Test
    void snapKvPoolingKeepsNeighboursOfImportantTokens() {
        try (var cache = cache("snapkv", "budget", "5", "window", "2", "kernel", "3", "interval", "4")) {
            Synthetic.appendAll(cache, 0, 8);
            cache.observeAttention(0, SNAP_ROWS, 2, 1);
            cache.endStep();
            // max-pooled over 3: .35 .35 .3 .5 .5 .5: the ties at 3, 4, 5 go to the newest
            assertArrayEquals(new int[]{3, 4, 5, 6, 7}, Synthetic.positions(cache, 0));
        }
    }

    @Test
    void pyramidKvBudgetsFallLinearlyWithDepth() {
        var layout = new KvLayout(3, 1, 2);
        try (var cache = KvCaches.create(layout, PolicySpec.of("pyramidkv", "budget", "10", "beta", "2", "interval", "1"))) {
            Synthetic.appendAll(cache, 0, 30);
            cache.endStep();
            // beta 2: first layer (2 - 1/2) * 10 = 15, last 10 / 2 = 5, linear in between; mean 10
            assertEquals(15, cache.length(0));
            assertEquals(10, cache.length(1));
            assertEquals(5, cache.length(2));
        }
    }

    @Test
    void rkvPrefersNonRedundantKeysWhereSnapKvKeepsDuplicates() {
        // positions 0..4 share one key direction; 5 is orthogonal to it, 6 opposite; 7 is the observation window.
        // The duplicates draw slightly more attention (.15 vs .1).
        float[][] keys = {{1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {0, 1}, {-1, 0}, {0.6f, 0.8f}};
        float[] attention = {0.15f, 0.15f, 0.15f, 0.15f, 0.15f, 0.1f, 0.1f, 0.05f};
        int[] rkv = keptWith(PolicySpec.of("rkv", "budget", "3", "window", "1", "kernel", "1", "interval", "1"), keys, attention);
        // mean cosine to the others: duplicates .5, orthogonal 0, opposite -.83; with lambda .1 redundancy dominates
        assertArrayEquals(new int[]{5, 6, 7}, rkv);
        int[] snap = keptWith(PolicySpec.of("snapkv", "budget", "3", "window", "1", "kernel", "1", "interval", "1"), keys, attention);
        assertArrayEquals(new int[]{3, 4, 7}, snap, "attention alone keeps two of the duplicates");
        int[] attentionOnly = keptWith(PolicySpec.of("rkv", "budget", "3", "window", "1", "kernel", "1", "interval", "1",
                "lambda", "1"), keys, attention);
        assertArrayEquals(snap, attentionOnly, "lambda 1 is attention only");
    }

    private static int[] keptWith(PolicySpec spec, float[][] keys, float[] attention) {
        try (var cache = KvCaches.create(ONE_LAYER, spec)) {
            for (int p = 0; p < keys.length; p++) cache.append(0, p, keys[p], 0, keys[p], 0);
            cache.observeAttention(0, attention, 1, 1);
            cache.endStep();
            return Synthetic.positions(cache, 0);
        }
    }
}
