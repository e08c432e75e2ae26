package dev.lethe.cache.policy;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * SnapKV-style selection adapted to decoding, shared by SnapKV, PyramidKV and R-KV: once at least
 * {@code interval} tokens have been appended since a layer's last compression and the layer exceeds its
 * budget, it is compressed to the budget. The last {@code window} slots (the observation window) always
 * stay; the others are ranked by an {@link Importance} and the best fill the rest of the budget.
 */
final class WindowedSelector implements Selector {

    /** Ranks the slots {@code 0..candidates-1} of a layer: higher survives. */
    interface Importance {
        float[] score(LayerView layer, int candidates);
    }

    private final Budget budget;
    private final double[] layerFactor;
    private final int window;
    private final int interval;
    private final Importance importance;
    private final int[] lastCompressed;

    /** @param layerFactor per-layer multiplier of the budget (all 1 except for PyramidKV) */
    WindowedSelector(Budget budget, double[] layerFactor, int window, int interval, Importance importance) {
        this.budget = budget;
        this.layerFactor = layerFactor;
        this.window = window;
        this.interval = interval;
        this.importance = importance;
        this.lastCompressed = new int[layerFactor.length];
    }

    int budget(int layer, int fullLength, int promptLength) {
        return Math.max(1, (int) Math.round(budget.resolve(fullLength, promptLength) * layerFactor[layer]));
    }

    @Override
    public Selection select(LayerView layer, SequenceView sequence) {
        int l = layer.layer();
        int len = layer.length();
        int full = layer.fullLength();
        int b = budget(l, full, sequence.promptLength());
        if (len <= b || full - lastCompressed[l] < interval) return Selection.NONE;
        lastCompressed[l] = full;
        int observation = Math.min(window, b);
        int candidates = len - observation;
        float[] score = importance.score(layer, candidates);
        int[] ranked = Ranking.descending(score, 0, candidates);
        return Selection.keep(Ranking.keep(len, 0, observation, ranked, b - observation));
    }

    @Override
    public void writeState(DataOutput out) throws IOException {
        out.writeInt(lastCompressed.length);
        for (int c : lastCompressed) out.writeInt(c);
    }

    @Override
    public void readState(DataInput in) throws IOException {
        int layers = in.readInt();
        if (layers != lastCompressed.length) {
            throw new IOException("windowed selector state is for " + layers + " layers, the layout has " + lastCompressed.length);
        }
        for (int l = 0; l < layers; l++) lastCompressed[l] = in.readInt();
    }
}
