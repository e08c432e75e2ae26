package dev.lethe.engine.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvLayout;
import dev.lethe.cache.policy.LayerView;
import dev.lethe.cache.policy.Selection;
import dev.lethe.cache.policy.SequenceView;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fixed-ratio selector: what a round keeps, when rounds run, and the peak length admission reserves. */
class RatioSelectorTest {
    private final Random random = new Random();

    /** One layer driven step by step like the batched decoder drives it: one slot appended per step. */
    private static final class Layer implements LayerView, SequenceView {
        final int prompt;
        int length, appended;
        float[] scores = new float[0];

        Layer(int prompt) {
            this.prompt = prompt;
            this.length = prompt;
            this.appended = prompt;
        }

        @Override public int layer() { return 0; }
        @Override public KvLayout layout() { return new KvLayout(1, 1, 2); }
        @Override public int length() { return length; }
        @Override public int fullLength() { return appended; }
        @Override public int position(int slot) { throw new UnsupportedOperationException(); }
        @Override public float[] scores() { return scores; }
        @Override public MemorySegment keys() { throw new UnsupportedOperationException(); }
        @Override public MemorySegment values() { throw new UnsupportedOperationException(); }
        @Override public long step() { return appended - prompt; }
        @Override public int promptLength() { return prompt; }
        @Override public int layers() { return 1; }
        @Override public long retainedTokens() { return length; }
    }

    @Test
    void peakLengthIsWhatTheSelectorReallyReaches() {
        for (double ratio : new double[] {0.1, 0.25, 0.5, 0.9}) {
            int prompt = 20 + random.nextInt(200), generated = 1 + random.nextInt(3000), delta = 1 + random.nextInt(300);
            RatioSelector selector = new RatioSelector(1, ratio, delta, 4, 0.3);
            Layer layer = new Layer(prompt);
            int peak = layer.length, roundsRun = 0;
            for (int fed = prompt; ; fed++) {
                selector.beginStep(layer);
                layer.scores = new float[layer.length];
                for (int i = 0; i < layer.length; i++) layer.scores[i] = random.nextFloat();
                Selection s = selector.select(layer, layer);
                if (s.kind() == Selection.Kind.PRUNE) {
                    assertEquals(selector.budget(layer.appended, layer.length), s.keep().length);
                    layer.length = s.keep().length;
                    roundsRun++;
                }
                if (fed == prompt + generated - 1) break;
                layer.length++;
                layer.appended++;
                peak = Math.max(peak, layer.length);
            }
            assertEquals(peak, selector.peakLength(prompt, generated), "ratio " + ratio + " prompt " + prompt + " generated " + generated + " delta " + delta);
            if (generated > delta + 1) assertTrue(roundsRun > 0);
        }
    }

    @Test
    void aRoundKeepsSinksRecentAndTheBestScored() {
        RatioSelector selector = new RatioSelector(1, 0.25, 8, 4, 0.3);
        Layer layer = new Layer(100);
        layer.length = 109;
        layer.appended = 109;
        layer.scores = new float[109];
        for (int i = 0; i < 109; i++) layer.scores[i] = random.nextFloat();
        selector.beginStep(layer);
        int[] keep = selector.select(layer, layer).keep();
        int budget = (int) Math.ceil(0.25 * 109); // 28: 4 sinks, ceil(0.3 * 28) = 9 recent, 15 best of the rest
        assertEquals(budget, keep.length);
        for (int i = 0; i < 4; i++) assertEquals(i, keep[i]);
        for (int i = 0; i < 9; i++) assertEquals(100 + i, keep[budget - 9 + i]);
        float worstKept = Float.MAX_VALUE;
        for (int i = 4; i < budget - 9; i++) worstKept = Math.min(worstKept, layer.scores[keep[i]]);
        for (int slot = 4; slot < 100; slot++) {
            if (Arrays.binarySearch(keep, slot) < 0) assertTrue(layer.scores[slot] <= worstKept, "slot " + slot + " outscored a kept one");
        }
        layer.length = keep.length;
        for (int step = 0; step < 8; step++) {
            layer.length++;
            layer.appended++;
            assertEquals(Selection.Kind.NONE, selector.select(layer, layer).kind(), "threshold is now budget + delta");
        }
        layer.length++;
        layer.appended++;
        layer.scores = new float[layer.length];
        assertEquals(Selection.Kind.PRUNE, selector.select(layer, layer).kind(), "past budget + delta");
    }
}
