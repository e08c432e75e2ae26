package dev.lethe.cache.policy;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * R-KV's score: {@code λ·importance − (1−λ)·redundancy}. Importance is the pooled window attention,
 * normalised to sum 1; redundancy is the softmax over slots of each key's mean cosine similarity to the other
 * candidate keys (cosine per KV head, averaged over heads). R-KV's extra step of keeping only the most
 * recent of near-duplicate keys is not modelled.
 *
 * <p>The mean similarity needs no n×n matrix: with unit per-head vectors {@code u_i}, the sum of
 * {@code u_i·u_j} over {@code j ≠ i} is {@code u_i·(Σ_j u_j) − u_i·u_i}, so the score costs O(n·d).
 */
final class KeyRedundancy implements WindowedSelector.Importance {
    private final WindowScorer window;
    private final int kernel;
    private final double lambda;

    KeyRedundancy(WindowScorer window, int kernel, double lambda) {
        this.window = window;
        this.kernel = kernel;
        this.lambda = lambda;
    }

    @Override
    public float[] score(LayerView layer, int candidates) {
        float[] attention = WindowScorer.maxPool(window.importance(layer, candidates), kernel);
        double attentionSum = 0;
        for (float a : attention) attentionSum += a;

        int heads = layer.layout().kvHeads();
        int headDim = layer.layout().headDim();
        int kvDim = heads * headDim;
        float[] units = unitKeys(layer.keys(), candidates, heads, headDim);
        double[] total = new double[kvDim];
        for (int i = 0; i < candidates; i++) {
            for (int d = 0; d < kvDim; d++) total[d] += units[i * kvDim + d];
        }
        double[] similarity = new double[candidates];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < candidates; i++) {
            double withAll = 0;
            double self = 0;
            for (int d = 0; d < kvDim; d++) {
                double u = units[i * kvDim + d];
                withAll += u * total[d];
                self += u * u;
            }
            similarity[i] = candidates > 1 ? (withAll - self) / ((double) heads * (candidates - 1)) : 0;
            max = Math.max(max, similarity[i]);
        }
        double expSum = 0;
        for (int i = 0; i < candidates; i++) {
            similarity[i] = Math.exp(similarity[i] - max);
            expSum += similarity[i];
        }
        float[] score = new float[candidates];
        for (int i = 0; i < candidates; i++) {
            double importance = attentionSum > 0 ? attention[i] / attentionSum : 0;
            score[i] = (float) (lambda * importance - (1 - lambda) * similarity[i] / expSum);
        }
        return score;
    }

    /** The keys of the first {@code count} slots with each head's vector scaled to unit length (zero stays zero). */
    private static float[] unitKeys(MemorySegment keys, int count, int heads, int headDim) {
        float[] units = new float[count * heads * headDim];
        MemorySegment.copy(keys, JAVA_FLOAT, 0, units, 0, units.length);
        for (int v = 0; v < count * heads; v++) {
            int base = v * headDim;
            double norm = 0;
            for (int d = 0; d < headDim; d++) norm += (double) units[base + d] * units[base + d];
            if (norm == 0) continue;
            float inverse = (float) (1 / Math.sqrt(norm));
            for (int d = 0; d < headDim; d++) units[base + d] *= inverse;
        }
        return units;
    }
}
