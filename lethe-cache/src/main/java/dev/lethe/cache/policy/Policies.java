package dev.lethe.cache.policy;

import dev.lethe.cache.KvLayout;

import java.util.Arrays;
import java.util.List;

/**
 * Builds an {@link EvictionPolicy} for one sequence from a {@link PolicySpec}, validating every parameter.
 * Defaults that the papers do not fix are ours and named here.
 *
 * <table>
 * <caption>Policies and parameters</caption>
 * <tr><th>name</th><th>parameters (default)</th></tr>
 * <tr><td>lethe</td><td>sparse-ratio τ &gt; 1 (400), recent-ratio (0.3), delta Δ (256), gamma γ (0.95),
 *     sinks (4), keep-prompt (false), segments D (16), token-cap (0 = off; retained tokens per layer, averaged over
 *     layers)</td></tr>
 * <tr><td>full</td><td>none</td></tr>
 * <tr><td>streamingllm</td><td>sinks (4), keep-prompt (false); one of budget, budget-ratio, window (budget =
 *     sinks + window)</td></tr>
 * <tr><td>h2o</td><td>budget or budget-ratio; recent-ratio of the budget (0.5)</td></tr>
 * <tr><td>tova</td><td>budget or budget-ratio</td></tr>
 * <tr><td>snapkv</td><td>budget or budget-ratio; window (32), kernel (7, odd), interval (128)</td></tr>
 * <tr><td>pyramidkv</td><td>as snapkv (budget is the mean over layers), beta ≥ 1 (20): the first layer gets
 *     (2 − 1/β)·budget, the last budget/β, linearly in between</td></tr>
 * <tr><td>rkv</td><td>budget or budget-ratio; window (8), kernel (7), interval (128), lambda (0.1)</td></tr>
 * </table>
 *
 * A budget is tokens per layer ({@code budget}) or a fraction of the full length so far ({@code budget-ratio});
 * with either, {@code grace} (0 = none) keeps it at least prompt length + grace tokens. {@code keep-prompt=true}
 * (ours, not in either paper) widens the sinks to the whole declared prompt, so that a question only the prompt
 * states survives every round: what a reasoning job needs at its answer and nothing attends to in between.
 */
public final class Policies {
    public static final int VERSION = 1;
    public static final List<String> NAMES =
            List.of("lethe", "full", "streamingllm", "h2o", "tova", "snapkv", "pyramidkv", "rkv");

    private Policies() {
    }

    public static EvictionPolicy create(PolicySpec spec, KvLayout layout) {
        var p = new Params(spec);
        int layers = layout.layers();
        return switch (spec.name()) {
            case "lethe" -> {
                double tau = p.real("sparse-ratio", 400);
                if (tau <= 1) throw p.invalid("sparse-ratio", "must be greater than 1, got " + tau);
                double recentRatio = p.ratio("recent-ratio", 0.3);
                int delta = p.nonNegative("delta", 256);
                double gamma = p.ratio("gamma", 0.95);
                int sinks = p.nonNegative("sinks", 4);
                boolean keepPrompt = p.flag("keep-prompt", false);
                int segments = p.positive("segments", 16);
                int tokenCap = p.nonNegative("token-cap", 0);
                yield policy(p, new RasrScorer(gamma),
                        new LetheSelector(layers, tau, recentRatio, delta, sinks, keepPrompt, segments, tokenCap));
            }
            case "full" -> policy(p, Scorer.NONE, (layer, sequence) -> Selection.NONE);
            case "streamingllm" -> {
                int sinks = p.nonNegative("sinks", 4);
                boolean keepPrompt = p.flag("keep-prompt", false);
                Budget budget;
                if (p.has("window")) {
                    if (p.has(Budget.TOKENS) || p.has(Budget.RATIO)) {
                        throw new IllegalArgumentException("KV policy streamingllm: give only one of parameters "
                                + "'window', 'budget' and 'budget-ratio'");
                    }
                    budget = new Budget(sinks + p.positive("window", 0), 0, 0);
                } else {
                    budget = Budget.read(p);
                }
                yield policy(p, Scorer.NONE, new SinkWindowSelector(sinks, keepPrompt, budget));
            }
            case "h2o" -> {
                Budget budget = Budget.read(p);
                yield policy(p, new AccumulatedScorer(), new HeavyRecentSelector(budget, p.ratio("recent-ratio", 0.5)));
            }
            case "tova" -> policy(p, new LastQueryScorer(), new TopBudgetSelector(Budget.read(p)));
            case "snapkv", "pyramidkv" -> {
                Budget budget = Budget.read(p);
                int window = p.positive("window", 32);
                int kernel = kernel(p);
                int interval = p.positive("interval", 128);
                double[] factor = new double[layers];
                Arrays.fill(factor, 1);
                if (spec.name().equals("pyramidkv")) pyramid(factor, p.real("beta", 20), p);
                var scorer = new WindowScorer(layers, window);
                yield policy(p, scorer, new WindowedSelector(budget, factor, window, interval,
                        (layer, candidates) -> WindowScorer.maxPool(scorer.importance(layer, candidates), kernel)));
            }
            case "rkv" -> {
                Budget budget = Budget.read(p);
                int window = p.positive("window", 8);
                int kernel = kernel(p);
                int interval = p.positive("interval", 128);
                double lambda = p.ratio("lambda", 0.1);
                double[] factor = new double[layers];
                Arrays.fill(factor, 1);
                var scorer = new WindowScorer(layers, window);
                yield policy(p, scorer, new WindowedSelector(budget, factor, window, interval,
                        new KeyRedundancy(scorer, kernel, lambda)));
            }
            default -> throw new IllegalArgumentException(
                    "unknown KV policy '" + spec.name() + "' (known: " + String.join(", ", NAMES) + ")");
        };
    }

    private static EvictionPolicy policy(Params params, Scorer scorer, Selector selector) {
        return new EvictionPolicy(params.finish(), VERSION, scorer, selector);
    }

    private static int kernel(Params p) {
        int kernel = p.positive("kernel", 7);
        if (kernel % 2 == 0) throw p.invalid("kernel", "must be odd (a centred pooling window), got " + kernel);
        return kernel;
    }

    /** PyramidKV: budgets fall linearly from (2 − 1/β)·B at the first layer to B/β at the last; mean B. */
    private static void pyramid(double[] factor, double beta, Params p) {
        if (beta < 1) throw p.invalid("beta", "must be at least 1, got " + beta);
        int layers = factor.length;
        if (layers == 1) return;
        double top = 2 - 1 / beta;
        double bottom = 1 / beta;
        for (int l = 0; l < layers; l++) factor[l] = top - (top - bottom) * l / (layers - 1);
    }
}
