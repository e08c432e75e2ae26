package dev.lethe.cache.policy;

/**
 * Lethe's recency-aware selective retention: {@code S[j] ← γ·S[j] + a_t[j]}, where a_t is this step's
 * attention summed over query heads and queries. A slot appended this step starts at zero, so its score
 * begins at its first attention mass.
 */
final class RasrScorer implements Scorer {
    private final float gamma;

    RasrScorer(double gamma) {
        this.gamma = (float) gamma;
    }

    @Override
    public int width() {
        return 1;
    }

    @Override
    public void observe(LayerView layer, float[] probabilities, int queries, int queryHeads, float[] relevance) {
        float[] s = layer.scores();
        for (int j = 0, n = layer.length(); j < n; j++) s[j] = gamma * s[j] + relevance[j];
    }
}
