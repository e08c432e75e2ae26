package dev.lethe.cache.policy;

/** StreamingLLM: keep the first {@code sinks} slots and the most recent ones, the budget in all. */
final class SinkWindowSelector implements Selector {
    private final int sinks;
    private final Budget budget;

    SinkWindowSelector(int sinks, Budget budget) {
        this.sinks = sinks;
        this.budget = budget;
    }

    @Override
    public Selection select(LayerView layer, SequenceView sequence) {
        int len = layer.length();
        int b = budget.resolve(layer.fullLength(), sequence.promptLength());
        if (len <= b) return Selection.NONE;
        int s = Math.min(sinks, b);
        return Selection.keep(Ranking.keep(len, s, b - s, new int[0], 0));
    }
}
