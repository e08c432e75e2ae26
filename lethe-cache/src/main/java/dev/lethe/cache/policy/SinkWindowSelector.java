package dev.lethe.cache.policy;

/**
 * StreamingLLM: keep the first {@code sinks} slots (with {@code keepPrompt}, at least the whole declared prompt)
 * and the most recent ones, the budget in all.
 */
final class SinkWindowSelector implements Selector {
    private final int sinks;
    private final boolean keepPrompt;
    private final Budget budget;

    SinkWindowSelector(int sinks, boolean keepPrompt, Budget budget) {
        this.sinks = sinks;
        this.keepPrompt = keepPrompt;
        this.budget = budget;
    }

    @Override
    public Selection select(LayerView layer, SequenceView sequence) {
        int len = layer.length();
        int b = budget.resolve(layer.fullLength(), sequence.promptLength());
        if (len <= b) return Selection.NONE;
        int s = Math.min(keepPrompt ? Math.max(sinks, sequence.promptLength()) : sinks, b);
        return Selection.keep(Ranking.keep(len, s, b - s, new int[0], 0));
    }
}
