package dev.lethe.cache;

import dev.lethe.cache.policy.PolicySpec;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded random runs of every policy (random shapes, parameters, prompt lengths, prefill chunks and attention
 * sharpness per layer), checking after every step what must always hold.
 */
class PolicyInvariantsTest {

    @Test
    void everyPolicyKeepsASubsetInOrderWithRowsMovingTogether() {
        for (int seed = 0; seed < 48; seed++) {
            var random = new Random(seed);
            String name = dev.lethe.cache.policy.Policies.NAMES.get(seed % dev.lethe.cache.policy.Policies.NAMES.size());
            run(random, randomSpec(name, random), seed);
        }
    }

    @Test
    void letheNeverEvictsSinksOrTheRecentWindow() {
        long rounds = 0;
        long deferred = 0;
        for (int seed = 100; seed < 130; seed++) {
            var random = new Random(seed);
            var stats = run(random, randomSpec("lethe", random), seed);
            rounds += stats.totalRounds();
            deferred += stats.totalDeferred();
        }
        assertTrue(rounds > 30 && deferred > 30, "the runs exercised rounds (" + rounds + ") and deferrals (" + deferred + ")");
    }

    private static PolicySpec randomSpec(String name, Random random) {
        String budget = Integer.toString(4 + random.nextInt(40));
        return switch (name) {
            case "lethe" -> PolicySpec.of("lethe", "sparse-ratio", Double.toString(2 + random.nextInt(400)),
                    "recent-ratio", Double.toString(random.nextInt(6) / 10.0), "delta", Integer.toString(random.nextInt(20)),
                    "gamma", Double.toString(0.5 + random.nextInt(50) / 100.0), "sinks", Integer.toString(random.nextInt(6)),
                    "segments", Integer.toString(1 + random.nextInt(20)));
            case "full" -> PolicySpec.full();
            case "streamingllm" -> PolicySpec.of(name, "sinks", Integer.toString(random.nextInt(4)), "budget", budget);
            case "h2o" -> random.nextBoolean() ? PolicySpec.of(name, "budget", budget)
                    : PolicySpec.of(name, "budget-ratio", Double.toString(0.1 + random.nextInt(8) / 10.0));
            case "tova" -> PolicySpec.of(name, "budget", budget);
            case "snapkv", "pyramidkv", "rkv" -> PolicySpec.of(name, "budget", budget,
                    "window", Integer.toString(1 + random.nextInt(6)), "interval", Integer.toString(1 + random.nextInt(20)));
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static KvCacheStats run(Random random, PolicySpec spec, int seed) {
        var layout = new KvLayout(1 + random.nextInt(3), 1 + random.nextInt(2), 1 + random.nextInt(4));
        int queryHeads = layout.kvHeads() * (1 + random.nextInt(2));
        var pool = new KvBlockPool(layout, 1 + random.nextInt(8), Long.MAX_VALUE);
        double[] sharpness = new double[layout.layers()];
        for (int l = 0; l < sharpness.length; l++) sharpness[l] = random.nextInt(4) * 1.5;
        int prompt = 1 + random.nextInt(80);
        int steps = 60 + random.nextInt(120);
        String where = "seed " + seed + " " + spec + " " + layout;
        var rounds = new RoundRecorder();
        KvCacheStats stats;
        try (var cache = KvCaches.create(layout, spec, pool)) {
            cache.addListener(rounds);
            int next = 0;
            int chunk = 1 + random.nextInt(prompt);
            if (chunk < prompt) cache.declarePromptLength(prompt);
            while (next < prompt + steps) {
                int count = next < prompt ? Math.min(chunk, prompt - next) : 1;
                int[][] before = new int[layout.layers()][];
                Synthetic.appendAll(cache, next, next + count);
                for (int l = 0; l < layout.layers(); l++) {
                    before[l] = Synthetic.positions(cache, l);
                    Synthetic.observe(cache, l, count, queryHeads, sharpness[l], random);
                }
                rounds.clear();
                cache.endStep();
                next += count;
                for (int l = 0; l < layout.layers(); l++) {
                    int[] after = Synthetic.positions(cache, l);
                    checkSubsequence(before[l], after, where + " layer " + l + " at " + next);
                    if (spec.name().equals("lethe") && rounds.ran(l)) checkLetheProtected(spec, before[l], after, cache, where);
                    boolean prefilling = chunk < prompt && next < prompt;  // no round before the declared prompt is in
                    if (!prefilling && (spec.name().equals("streamingllm") || spec.name().equals("tova") || spec.name().equals("h2o"))) {
                        int budget = spec.parameters().containsKey("budget") ? Integer.parseInt(spec.parameters().get("budget"))
                                : (int) Math.ceil(Double.parseDouble(spec.parameters().get("budget-ratio")) * next - 1e-9);
                        assertTrue(after.length <= Math.max(1, budget), where + ": " + after.length + " over budget " + budget);
                    }
                }
                Synthetic.assertRowsMatchPositions(cache);
                assertEquals(cache.bytesHeld(), pool.usedBlocks() * pool.blockBytes(), where);
            }
            if (spec.name().equals("full")) assertEquals(prompt + steps, cache.length(0), where);
            stats = cache.stats();
        }
        assertEquals(0, pool.usedBlocks(), where + ": close returned every block");
        return stats;
    }

    /** {@code after} must be a subsequence of {@code before}: only removals, order kept. */
    private static void checkSubsequence(int[] before, int[] after, String where) {
        int i = 0;
        for (int p : after) {
            while (i < before.length && before[i] != p) i++;
            if (i == before.length) fail(where + ": position " + p + " kept but not present before: " + Arrays.toString(after));
            i++;
        }
    }

    private static void checkLetheProtected(PolicySpec spec, int[] before, int[] after, OffHeapKvCache cache, String where) {
        int sinks = Integer.parseInt(spec.parameters().get("sinks"));
        double recentRatio = Double.parseDouble(spec.parameters().get("recent-ratio"));
        Set<Integer> kept = new HashSet<>();
        for (int p : after) kept.add(p);
        for (int s = 0; s < Math.min(sinks, before.length); s++) {
            assertTrue(kept.contains(before[s]), where + ": sink " + before[s] + " evicted");
        }
        int recent = (int) Math.ceil(recentRatio * before.length - 1e-9);
        for (int s = before.length - recent; s < before.length; s++) {
            assertTrue(kept.contains(before[s]), where + ": recent position " + before[s] + " evicted");
        }
        assertTrue(after.length < before.length, where + ": a round that ran removed something");
    }

    private static final class RoundRecorder implements KvCacheListener {
        private final Set<Integer> layers = new HashSet<>();

        @Override
        public void roundRun(long step, int layer, int before, int after) {
            layers.add(layer);
        }

        boolean ran(int layer) {
            return layers.contains(layer);
        }

        void clear() {
            layers.clear();
        }
    }
}
