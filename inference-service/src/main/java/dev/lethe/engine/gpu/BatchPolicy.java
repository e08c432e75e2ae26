package dev.lethe.engine.gpu;

import dev.lethe.cache.KvLayout;
import dev.lethe.cache.policy.EvictionPolicy;
import dev.lethe.cache.policy.Policies;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.cache.policy.Selector;
import java.util.function.Supplier;

/**
 * The KV policy of a batched run: how each sequence's pruning rounds are chosen (a lethe-cache
 * {@link Selector}, reading the RASR scores the device keeps), the decay of those scores, and how admission
 * sizes a sequence.
 *
 * @param selectors   a fresh selector per (re)admitted sequence, or null for a full cache
 * @param gamma       RASR decay of the device's scores; negative when nothing is scored
 * @param peakLength  the most slots a layer of a sequence of (prompt, generated) tokens ever holds, when the
 *                    policy makes that predictable: admission then reserves it. Null (Lethe, whose retention
 *                    follows the attention): admission looks at current use plus a watermark and preempts
 *                    when the pool runs dry.
 */
public record BatchPolicy(String name, Supplier<Selector> selectors, float gamma, PeakLength peakLength) {

    /** The largest per-layer length a sequence of (prompt, generated) tokens reaches. */
    public interface PeakLength {
        int of(int prompt, int generated);
    }

    public static BatchPolicy full() {
        return new BatchPolicy("full", null, -1f, (prompt, generated) -> prompt + generated - 1);
    }

    /** Lethe as lethe-cache specifies it (layer-adaptive breakpoint, Δ trigger, RASR with the spec's γ). */
    public static BatchPolicy lethe(PolicySpec spec, KvLayout layout) {
        EvictionPolicy probe = Policies.create(spec, layout);
        if (!probe.name().equals("lethe")) throw new IllegalArgumentException("not a lethe spec: " + spec);
        float gamma = Float.parseFloat(probe.spec().parameters().get("gamma"));
        return new BatchPolicy(probe.spec().toString(), () -> Policies.create(spec, layout).selector(), gamma, null);
    }

    /** A fixed retention ratio under Lethe's Δ trigger ({@link RatioSelector}: 4 sinks, 30% of the budget recent). */
    public static BatchPolicy ratio(double ratio, int delta, int layers, float gamma) {
        RatioSelector shape = new RatioSelector(layers, ratio, delta, 4, 0.3);
        return new BatchPolicy("ratio " + ratio, () -> new RatioSelector(layers, ratio, delta, 4, 0.3), gamma, shape::peakLength);
    }

    /** The same policy, admitted by reserving the given peak length (e.g. the full cache's, to rule out preemption). */
    public BatchPolicy reserving(PeakLength peak) {
        return new BatchPolicy(name, selectors, gamma, peak);
    }

    boolean prunes() {
        return selectors != null;
    }
}
