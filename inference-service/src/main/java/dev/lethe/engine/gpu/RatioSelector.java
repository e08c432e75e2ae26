package dev.lethe.engine.gpu;

import dev.lethe.cache.policy.LayerView;
import dev.lethe.cache.policy.Selection;
import dev.lethe.cache.policy.Selector;
import dev.lethe.cache.policy.SequenceView;
import java.util.Arrays;

/**
 * A fixed retention ratio under Lethe's trigger, for measuring what a given retention is worth in throughput
 * whatever the attention looks like (random weights make it flat, where Lethe itself keeps nearly everything).
 * A layer runs a round when its length exceeds its threshold (prompt length + Δ at first, kept + Δ after a
 * round); the round keeps {@code ceil(ratio · tokens appended so far)} slots: the sinks, the most recent
 * {@code recentShare} of that budget, and the rest by the highest RASR score.
 */
public final class RatioSelector implements Selector {
    private final double ratio;
    private final int delta;
    private final int sinks;
    private final double recentShare;
    private final long[] thresholds;

    public RatioSelector(int layers, double ratio, int delta, int sinks, double recentShare) {
        if (!(ratio > 0 && ratio <= 1)) throw new IllegalArgumentException("retention ratio must be in (0, 1], got " + ratio);
        if (delta < 1) throw new IllegalArgumentException("delta must be positive, got " + delta);
        if (sinks < 0) throw new IllegalArgumentException("sinks must not be negative, got " + sinks);
        if (!(recentShare >= 0 && recentShare <= 1)) throw new IllegalArgumentException("recent share must be in [0, 1], got " + recentShare);
        this.ratio = ratio;
        this.delta = delta;
        this.sinks = sinks;
        this.recentShare = recentShare;
        this.thresholds = new long[layers];
        Arrays.fill(thresholds, -1);
    }

    /** Slots a round keeps when {@code appended} tokens have been appended to a layer now holding {@code length}. */
    int budget(int appended, int length) {
        return Math.min(length, Math.max(sinks + 1, (int) Math.ceil(ratio * appended)));
    }

    @Override
    public void beginStep(SequenceView sequence) {
        if (thresholds[0] < 0) Arrays.fill(thresholds, (long) sequence.promptLength() + delta);
    }

    @Override
    public Selection select(LayerView layer, SequenceView sequence) {
        int l = layer.layer(), len = layer.length();
        if (len <= thresholds[l]) return Selection.NONE;
        int budget = budget(layer.fullLength(), len);
        int s = Math.min(sinks, budget);
        int recent = Math.min(budget - s, (int) Math.ceil(recentShare * budget));
        int top = budget - s - recent;
        float[] scores = layer.scores();
        boolean[] kept = new boolean[len];
        for (int i = 0; i < s; i++) kept[i] = true;
        for (int i = len - recent; i < len; i++) kept[i] = true;
        Integer[] middle = new Integer[Math.max(0, len - recent - s)];
        for (int i = 0; i < middle.length; i++) middle[i] = s + i;
        // highest score first; among equals the later slot (more recent) first
        Arrays.sort(middle, (a, b) -> scores[a] != scores[b] ? Float.compare(scores[b], scores[a]) : Integer.compare(b, a));
        for (int i = 0; i < top && i < middle.length; i++) kept[middle[i]] = true;
        int[] keep = new int[budget];
        int n = 0;
        for (int i = 0; i < len; i++) if (kept[i]) keep[n++] = i;
        thresholds[l] = (long) budget + delta;
        return Selection.keep(Arrays.copyOf(keep, n));
    }

    /**
     * The largest length any layer reaches for a prompt of {@code prompt} tokens and {@code generated} generated
     * ones (the last not fed back), simulating the rule above: what admission reserves for such a sequence.
     */
    int peakLength(int prompt, int generated) {
        int fed = prompt + generated - 1;
        long threshold = (long) prompt + delta;
        int length = prompt, peak = prompt;
        for (int appended = prompt + 1; appended <= fed; appended++) {
            length++;
            peak = Math.max(peak, length);
            if (length > threshold) {
                length = budget(appended, length);
                threshold = (long) length + delta;
            }
        }
        return peak;
    }
}
