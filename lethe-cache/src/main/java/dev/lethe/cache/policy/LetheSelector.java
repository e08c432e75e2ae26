package dev.lethe.cache.policy;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Arrays;

/**
 * Lethe's trigger and layer-adaptive budget (DESIGN §5, steps 3–5).
 *
 * <p>A layer runs a round when its length exceeds its threshold {@code T_l} (initially prompt length + Δ).
 * The round protects {@code sinks} sink slots (with {@code keepPrompt}, at least the whole declared prompt) and the {@code ceil(recentRatio·len)} most recent slots, sorts
 * the remaining scores descending into {@code v}, and looks at the boundaries {@code k = floor(i·m/D)},
 * {@code i = 1..D-1}, of {@code D} equal segments: the first with {@code v[k] ≤ v[0]/τ} is the breakpoint and
 * the top {@code k} survive. No breakpoint (flat attention, or nothing unprotected, or no attention mass at
 * all): nothing is pruned and {@code T_l} doubles. After a round {@code T_l = len + Δ}.
 *
 * <p>Optional global cap ({@code tokenCap > 0}): when the retained tokens of all layers exceed
 * {@code tokenCap · layers}, τ is halved (down to 1, where every round keeps only the top 1/D of the
 * unprotected slots) and every layer runs a round this step regardless of its threshold; each step under the
 * cap doubles τ back towards its configured value. The cap is soft: sinks and the recent window stay.
 */
final class LetheSelector implements Selector {
    private final double tau;
    private final double recentRatio;
    private final int delta;
    private final int sinks;
    private final boolean keepPrompt;
    private final int segments;
    private final int tokenCap;
    private final long[] thresholds;
    private double effectiveTau;
    private boolean overCap;

    LetheSelector(int layers, double tau, double recentRatio, int delta, int sinks, boolean keepPrompt, int segments, int tokenCap) {
        this.tau = tau;
        this.recentRatio = recentRatio;
        this.delta = delta;
        this.sinks = sinks;
        this.keepPrompt = keepPrompt;
        this.segments = segments;
        this.tokenCap = tokenCap;
        this.thresholds = new long[layers];
        Arrays.fill(thresholds, -1);
        this.effectiveTau = tau;
    }

    /** The layer's current threshold, or -1 before the first step ended. */
    long threshold(int layer) {
        return thresholds[layer];
    }

    double effectiveTau() {
        return effectiveTau;
    }

    @Override
    public void beginStep(SequenceView sequence) {
        if (thresholds[0] < 0) Arrays.fill(thresholds, (long) sequence.promptLength() + delta);
        if (tokenCap == 0) return;
        overCap = sequence.retainedTokens() > (long) tokenCap * sequence.layers();
        effectiveTau = overCap ? Math.max(1.0, effectiveTau / 2) : Math.min(tau, effectiveTau * 2);
    }

    @Override
    public Selection select(LayerView layer, SequenceView sequence) {
        int l = layer.layer();
        int len = layer.length();
        if (len <= thresholds[l] && !overCap) return Selection.NONE;

        // The first slots are the oldest positions and every round keeps them, so the prompt stays in front.
        int s = Math.min(keepPrompt ? Math.max(sinks, sequence.promptLength()) : sinks, len);
        int r = Math.min(Ranking.ceilFraction(recentRatio, len), len - s);
        int m = len - s - r;
        if (m > 0) {
            float[] score = layer.scores();
            int[] ranked = Ranking.descending(score, s, s + m);
            float top = score[ranked[0]];
            if (top > 0) {
                float limit = (float) (top / effectiveTau);
                for (int i = 1; i < segments; i++) {
                    int k = (int) ((long) i * m / segments);
                    if (k >= 1 && score[ranked[k]] <= limit) {
                        int[] keep = Ranking.keep(len, s, r, ranked, k);
                        thresholds[l] = saturatingAdd(keep.length, delta);
                        return Selection.keep(keep);
                    }
                }
            }
        }
        thresholds[l] = saturatingAdd(thresholds[l], thresholds[l]);
        return Selection.DEFERRED;
    }

    private static long saturatingAdd(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    @Override
    public void writeState(DataOutput out) throws IOException {
        out.writeInt(thresholds.length);
        for (long t : thresholds) out.writeLong(t);
        out.writeDouble(effectiveTau);
        out.writeBoolean(overCap);
    }

    @Override
    public void readState(DataInput in) throws IOException {
        int layers = in.readInt();
        if (layers != thresholds.length) {
            throw new IOException("lethe state is for " + layers + " layers, the layout has " + thresholds.length);
        }
        for (int l = 0; l < layers; l++) thresholds[l] = in.readLong();
        effectiveTau = in.readDouble();
        overCap = in.readBoolean();
    }
}
