package dev.lethe.cache.policy;

/** TOVA's score: the attention of the step's last query, averaged over query heads; replaced every step. */
final class LastQueryScorer implements Scorer {
    @Override
    public int width() {
        return 1;
    }

    @Override
    public void observe(LayerView layer, float[] probabilities, int queries, int queryHeads, float[] relevance) {
        float[] s = layer.scores();
        int n = layer.length();
        java.util.Arrays.fill(s, 0, n, 0f);
        int base = (queries - 1) * queryHeads;
        for (int h = 0; h < queryHeads; h++) {
            int row = (base + h) * n;
            for (int j = 0; j < n; j++) s[j] += probabilities[row + j];
        }
        float inverse = 1f / queryHeads;
        for (int j = 0; j < n; j++) s[j] *= inverse;
    }
}
