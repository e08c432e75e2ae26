package dev.lethe.engine.bench;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.testing.ModelShape;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The time KV policies add to a real decode step at a long cache: a TinyLlama-1.1B-shaped model (random Q8_0
 * weights, context 8192) whose cache is filled with {@code cachedTokens} random keys and values, decoded for a
 * few steps with each policy; the time inside the policy's hooks (attention scoring, step ends with any
 * pruning round) over the whole step time. Q8_0 makes the step short, so the fraction errs high.
 */
public final class PolicyOverheadBench {
    private static final long SEED = 7;

    private PolicyOverheadBench() {}

    public static void run(Path dir, int cachedTokens, int steps, PrintStream out) throws IOException {
        ModelShape tiny = ModelShape.llama1B(GgmlType.Q8_0, SEED);
        ModelShape shape = new ModelShape(tiny.arch(), tiny.dim(), tiny.layers(), tiny.heads(), tiny.kvHeads(), tiny.ffn(),
                tiny.vocab(), Math.max(8192, cachedTokens + steps + 16), GgmlType.Q8_0, SEED, false);
        Path file = CpuBench.ensureModel(shape, dir, out);
        List<PolicySpec> policies = List.of(PolicySpec.of("full"), PolicySpec.of("lethe"),
                PolicySpec.of("lethe", "delta", String.valueOf(Math.max(1, steps / 4))), PolicySpec.of("h2o", "budget-ratio", "0.5"));
        out.printf(Locale.ROOT, "%-40s %10s %10s %9s %9s%n", "policy", "step ms", "policy ms", "fraction", "retained");
        try (Model model = Model.load(file)) {
            for (PolicySpec spec : policies) {
                OffHeapKvCache inner = KvCaches.create(model.kvLayout(), spec);
                TimedKvCache cache = new TimedKvCache(inner);
                fill(cache, cachedTokens, new Random(SEED));
                try (Sequence s = model.resumeSequence(cache, cachedTokens)) {
                    int token = 1;
                    for (int i = 0; i < 2; i++) token = Sampler.argmax(s.forward(token)); // warm-up
                    cache.resetTimer();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < steps; i++) token = Sampler.argmax(s.forward(token));
                    double stepMs = (System.nanoTime() - t0) / 1e6 / steps;
                    double policyMs = cache.policyNanos() / 1e6 / steps;
                    out.printf(Locale.ROOT, "%-40s %10.1f %10.3f %8.2f%% %8.1f%%%n", spec.toString().replace("{}", ""),
                            stepMs, policyMs, 100 * policyMs / stepMs, 100.0 * inner.stats().retained()[0] / inner.stats().fullLengths()[0]);
                }
            }
        }
    }

    /** Appends random keys and values at positions 0..tokens-1 in every layer, as one prefill step. */
    private static void fill(TimedKvCache cache, int tokens, Random random) {
        int kvDim = cache.layout().kvDim();
        float[] k = new float[kvDim];
        float[] v = new float[kvDim];
        cache.declarePromptLength(tokens);
        for (int l = 0; l < cache.layout().layers(); l++) {
            for (int p = 0; p < tokens; p++) {
                for (int i = 0; i < kvDim; i++) {
                    k[i] = (float) random.nextGaussian();
                    v[i] = (float) random.nextGaussian();
                }
                cache.append(l, p, k, 0, v, 0);
            }
        }
        cache.endStep();
    }
}
