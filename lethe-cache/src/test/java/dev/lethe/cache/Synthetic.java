package dev.lethe.cache;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Drives a cache the way the engine does, with keys and values that encode their position (so a test can
 * tell whether rows moved with their positions) and softmax attention of a chosen sharpness.
 */
public final class Synthetic {
    private Synthetic() {
    }

    /** Key float {@code i} of the token at {@code position}: distinct for every (position, i). */
    public static float keyAt(int position, int i) {
        return position * 1000f + i;
    }

    public static float valueAt(int position, int i) {
        return -(position * 1000f + i) - 0.5f;
    }

    public static void append(KvCache cache, int layer, int position) {
        int kvDim = cache.layout().kvDim();
        float[] key = new float[kvDim + 3];
        float[] value = new float[kvDim + 5];
        for (int i = 0; i < kvDim; i++) {
            key[3 + i] = keyAt(position, i);
            value[5 + i] = valueAt(position, i);
        }
        cache.append(layer, position, key, 3, value, 5);
    }

    /** Appends positions {@code from..to-1} to every layer. */
    public static void appendAll(KvCache cache, int from, int to) {
        for (int l = 0; l < cache.layout().layers(); l++) {
            for (int p = from; p < to; p++) append(cache, l, p);
        }
    }

    /**
     * Softmax attention for {@code queries × heads} rows over the layer's slots, as real attention behaves: each
     * position has a fixed salience (a Gaussian drawn from its position) so the same tokens stay important
     * step after step, plus per-step noise. {@code sharpness} scales the logits (0: uniform). Future slots of a
     * chunk are masked as the engine does: query q of a chunk of {@code queries} tokens sees slots
     * {@code 0..length-queries+q}.
     */
    public static float[] attention(KvCache cache, int layer, int queries, int heads, double sharpness, Random random) {
        int length = cache.length(layer);
        float[] probs = new float[queries * heads * length];
        for (int q = 0; q < queries; q++) {
            int visible = length - queries + q + 1;
            for (int h = 0; h < heads; h++) {
                int row = (q * heads + h) * length;
                double max = Double.NEGATIVE_INFINITY;
                double[] logits = new double[visible];
                for (int j = 0; j < visible; j++) {
                    logits[j] = sharpness * (salience(cache.position(layer, j)) + 0.3 * random.nextGaussian());
                    max = Math.max(max, logits[j]);
                }
                double sum = 0;
                for (int j = 0; j < visible; j++) sum += logits[j] = Math.exp(logits[j] - max);
                for (int j = 0; j < visible; j++) probs[row + j] = (float) (logits[j] / sum);
            }
        }
        return probs;
    }

    private static double salience(int position) {
        return new Random(position * 0x9E3779B97F4A7C15L + 17).nextGaussian();
    }

    /** Observes {@link #attention} for one layer. */
    public static void observe(KvCache cache, int layer, int queries, int heads, double sharpness, Random random) {
        cache.observeAttention(layer, attention(cache, layer, queries, heads, sharpness, random), queries, heads);
    }

    /** Checks that every slot's key and value rows belong to the position the cache reports for it. */
    public static void assertRowsMatchPositions(KvCache cache) {
        int kvDim = cache.layout().kvDim();
        for (int l = 0; l < cache.layout().layers(); l++) {
            int n = cache.length(l);
            MemorySegment keys = cache.keys(l);
            MemorySegment values = cache.values(l);
            if (keys.byteSize() != (long) n * kvDim * Float.BYTES || values.byteSize() != keys.byteSize()) {
                throw new AssertionError("layer " + l + ": segments of " + keys.byteSize() + "/" + values.byteSize()
                        + " bytes for " + n + " slots");
            }
            for (int s = 0; s < n; s++) {
                int p = cache.position(l, s);
                for (int i = 0; i < kvDim; i++) {
                    float k = keys.getAtIndex(JAVA_FLOAT, (long) s * kvDim + i);
                    float v = values.getAtIndex(JAVA_FLOAT, (long) s * kvDim + i);
                    if (k != keyAt(p, i) || v != valueAt(p, i)) {
                        throw new AssertionError("layer " + l + " slot " + s + " (position " + p + ") float " + i
                                + ": key " + k + ", value " + v);
                    }
                }
            }
        }
    }

    public static int[] positions(KvCache cache, int layer) {
        int[] p = new int[cache.length(layer)];
        for (int s = 0; s < p.length; s++) p[s] = cache.position(layer, s);
        return p;
    }
}
