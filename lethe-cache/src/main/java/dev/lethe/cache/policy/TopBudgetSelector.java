package dev.lethe.cache.policy;

/** TOVA's selection: when a layer exceeds its budget, keep the budget's worth of highest-scored slots. */
final class TopBudgetSelector implements Selector {
    private final Budget budget;

    TopBudgetSelector(Budget budget) {
        this.budget = budget;
    }

    @Override
    public Selection select(LayerView layer, SequenceView sequence) {
        int len = layer.length();
        int b = budget.resolve(layer.fullLength(), sequence.promptLength());
        if (len <= b) return Selection.NONE;
        return Selection.keep(Ranking.keep(len, 0, 0, Ranking.descending(layer.scores(), 0, len), b));
    }
}
