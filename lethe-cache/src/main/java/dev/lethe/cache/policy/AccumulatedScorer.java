package dev.lethe.cache.policy;

/**
 * H2O's heavy-hitter score: attention accumulated over all steps, summed over query heads. (H2O keeps a set
 * per head; here all KV heads of a layer keep the same positions, so the heads' attention is summed.)
 */
final class AccumulatedScorer implements Scorer {
    @Override
    public int width() {
        return 1;
    }

    @Override
    public void observe(LayerView layer, float[] probabilities, int queries, int queryHeads, float[] relevance) {
        float[] s = layer.scores();
        for (int j = 0, n = layer.length(); j < n; j++) s[j] += relevance[j];
    }
}
