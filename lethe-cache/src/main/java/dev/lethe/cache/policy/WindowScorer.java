package dev.lethe.cache.policy;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The observation window of SnapKV, PyramidKV and R-KV adapted to decoding: each slot keeps the attention it
 * received from each of the last {@code window} queries (summed over query heads), in a ring of
 * {@code window} floats per slot. The importance of a slot is the sum of its ring.
 */
final class WindowScorer implements Scorer {
    private final int window;
    private final long[] observed;

    WindowScorer(int layers, int window) {
        this.window = window;
        this.observed = new long[layers];
    }

    @Override
    public int width() {
        return window;
    }

    @Override
    public void observe(LayerView layer, float[] probabilities, int queries, int queryHeads, float[] relevance) {
        float[] s = layer.scores();
        int n = layer.length();
        // of a long prefill chunk only the last `window` queries would survive in the ring: skip the others
        int first = Math.max(0, queries - window);
        observed[layer.layer()] += first;
        for (int q = first; q < queries; q++) {
            int column = (int) (observed[layer.layer()]++ % window);
            for (int j = 0; j < n; j++) s[j * window + column] = 0;
            for (int h = 0; h < queryHeads; h++) {
                int row = (q * queryHeads + h) * n;
                for (int j = 0; j < n; j++) s[j * window + column] += probabilities[row + j];
            }
        }
    }

    /** Each slot's attention summed over the window, for slots {@code 0..count-1}. */
    float[] importance(LayerView layer, int count) {
        float[] s = layer.scores();
        float[] sum = new float[count];
        for (int j = 0; j < count; j++) {
            float total = 0;
            for (int c = 0; c < window; c++) total += s[j * window + c];
            sum[j] = total;
        }
        return sum;
    }

    /** Max-pools {@code values} over a centred kernel, so neighbours of an important token survive with it. */
    static float[] maxPool(float[] values, int kernel) {
        int half = kernel / 2;
        float[] pooled = new float[values.length];
        for (int j = 0; j < values.length; j++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = Math.max(0, j - half), end = Math.min(values.length - 1, j + half); i <= end; i++) {
                max = Math.max(max, values[i]);
            }
            pooled[j] = max;
        }
        return pooled;
    }

    @Override
    public void writeState(DataOutput out) throws IOException {
        out.writeInt(observed.length);
        for (long o : observed) out.writeLong(o);
    }

    @Override
    public void readState(DataInput in) throws IOException {
        int layers = in.readInt();
        if (layers != observed.length) {
            throw new IOException("window scorer state is for " + layers + " layers, the layout has " + observed.length);
        }
        for (int l = 0; l < layers; l++) observed[l] = in.readLong();
    }
}
