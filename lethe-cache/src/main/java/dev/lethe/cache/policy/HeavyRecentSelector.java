package dev.lethe.cache.policy;

/**
 * H2O's selection: whenever a layer exceeds its budget B, keep the {@code ceil(recentRatio·B)} most recent
 * slots plus the heaviest of the others by accumulated attention, B in all.
 */
final class HeavyRecentSelector implements Selector {
    private final Budget budget;
    private final double recentRatio;

    HeavyRecentSelector(Budget budget, double recentRatio) {
        this.budget = budget;
        this.recentRatio = recentRatio;
    }

    @Override
    public Selection select(LayerView layer, SequenceView sequence) {
        int len = layer.length();
        int b = budget.resolve(layer.fullLength(), sequence.promptLength());
        if (len <= b) return Selection.NONE;
        int recent = Math.min(Ranking.ceilFraction(recentRatio, b), b);
        int[] ranked = Ranking.descending(layer.scores(), 0, len - recent);
        return Selection.keep(Ranking.keep(len, 0, recent, ranked, b - recent));
    }
}
