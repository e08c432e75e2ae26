package dev.lethe.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.testutil.SharedFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Lethe plugged into the real engine on stories260K. */
class LethePruningOnStoriesTest {
    private static final int STEPS = 1200;
    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(SharedFiles.storiesModel());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    record Run(int[] tokens, double meanRetained, long rounds, long bytesHeldAtEnd) {}

    private static Run greedy(PolicySpec spec) {
        OffHeapKvCache cache = KvCaches.create(model.kvLayout(), spec);
        cache.declarePromptLength(1);
        int[] tokens = new int[STEPS];
        try (Sequence s = model.newSequence(cache)) {
            int token = model.tokenizer().bosId();
            for (int i = 0; i < STEPS; i++) {
                token = Sampler.argmax(s.forward(token));
                tokens[i] = token;
            }
            return new Run(tokens, cache.stats().meanRetainedFraction(), cache.stats().totalRounds(), cache.bytesHeld());
        }
    }

    @Test
    void letheWithHugeTauPrunesNothingAndEqualsTheFullCacheTokenForToken() {
        Run full = greedy(PolicySpec.of("full"));
        Run lethe = greedy(PolicySpec.of("lethe", "sparse-ratio", "1e12"));
        assertArrayEquals(full.tokens(), lethe.tokens());
        assertTrue(lethe.meanRetained() == 1.0, "retained " + lethe.meanRetained());
        assertTrue(lethe.rounds() == 0, "rounds " + lethe.rounds());
    }

    @Test
    void letheAtItsDefaultsRetainsClearlyLessKvAndFreesTheMemory() {
        Run full = greedy(PolicySpec.of("full"));
        Run lethe = greedy(PolicySpec.of("lethe"));
        assertTrue(lethe.rounds() > 0, "no pruning round ran");
        assertTrue(lethe.meanRetained() < 0.85, "mean retained fraction " + lethe.meanRetained());
        assertTrue(lethe.bytesHeldAtEnd() < 0.85 * full.bytesHeldAtEnd(),
                "bytes held " + lethe.bytesHeldAtEnd() + " vs full " + full.bytesHeldAtEnd());
    }
}
