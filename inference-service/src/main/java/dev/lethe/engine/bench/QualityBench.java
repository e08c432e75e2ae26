package dev.lethe.engine.bench;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.RetentionHistory;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.sampler.SamplingParams;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What each KV policy costs in quality for the memory it saves, on a real model:
 * (a) teacher-forced perplexity over a token sequence with the policy pruning as it goes, against the full
 * cache; (b) how long greedy decoding from a prompt agrees with the full cache's greedy decoding.
 * Fixed-budget policies are swept over budget ratios; Lethe, which has no budget, over τ and Δ, and each row
 * reports the retention it actually reached.
 */
public final class QualityBench {

    /** One policy setting and what it measured. */
    public record Row(String label, String policy, PolicySpec spec, double meanRetained, double layerSpreadMin,
                      double layerSpreadMax, double perplexity, double deltaPerplexity, int agreedTokens,
                      int agreementTokens, RetentionHistory history) {}

    private final Model model;
    private final int[] text;
    private final int promptTokens;
    private final int agreementTokens;

    /**
     * @param text the token sequence for perplexity (BOS first); its first {@code promptTokens} tokens are
     *     also the prompt of the greedy-agreement run, which generates {@code agreementTokens}
     */
    public QualityBench(Model model, int[] text, int promptTokens, int agreementTokens) {
        this.model = model;
        this.text = text;
        this.promptTokens = promptTokens;
        this.agreementTokens = agreementTokens;
    }

    /** Text the model writes itself from BOS (temperature 1, fixed seed): used when no text file is given. */
    public static int[] selfGeneratedText(Model model, int tokens, long seed) {
        int[] out = new int[tokens];
        out[0] = model.tokenizer().bosId();
        Sampler sampler = new Sampler(new SamplingParams(1f, 0, 1f, 0f, seed, tokens, List.of()));
        try (Sequence s = model.newSequence(KvCaches.full(model.kvLayout()))) {
            for (int i = 1; i < tokens; i++) out[i] = sampler.sample(s.forward(out[i - 1]));
        }
        return out;
    }

    public List<Row> run(List<String> labels, List<PolicySpec> specs, PrintStream progress) {
        double fullPerplexity = Double.NaN;
        int[] fullGreedy = null;
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            PolicySpec spec = specs.get(i);
            long t0 = System.nanoTime();
            RetentionHistory history = new RetentionHistory();
            double perplexity;
            double[] perLayer;
            double mean;
            OffHeapKvCache cache = KvCaches.create(model.kvLayout(), spec);
            cache.declarePromptLength(promptTokens);
            cache.addListener(history);
            try (Sequence s = model.newSequence(cache)) {
                perplexity = perplexity(s);
                mean = cache.stats().meanRetainedFraction();
                perLayer = perLayerMeanRetained(history, model.config().layers());
            }
            int[] greedy = greedy(spec);
            if (spec.name().equals("full")) {
                fullPerplexity = perplexity;
                fullGreedy = greedy;
            }
            int agreed = fullGreedy == null ? agreementTokens : agreedPrefix(fullGreedy, greedy);
            rows.add(new Row(labels.get(i), spec.name(), spec, mean, Arrays.stream(perLayer).min().orElse(1),
                    Arrays.stream(perLayer).max().orElse(1), perplexity, perplexity - fullPerplexity, agreed,
                    agreementTokens, history));
            progress.printf(Locale.ROOT, "  %-28s done in %.1f s%n", labels.get(i), (System.nanoTime() - t0) / 1e9);
        }
        return rows;
    }

    /** Teacher-forced perplexity of {@code text[1..]} given everything before each token. */
    private double perplexity(Sequence s) {
        double nll = 0;
        for (int i = 0; i + 1 < text.length; i++) {
            float[] logits = s.forward(text[i]);
            nll += logSumExp(logits) - logits[text[i + 1]];
        }
        return Math.exp(nll / (text.length - 1));
    }

    private int[] greedy(PolicySpec spec) {
        int[] out = new int[agreementTokens];
        OffHeapKvCache cache = KvCaches.create(model.kvLayout(), spec);
        cache.declarePromptLength(promptTokens);
        try (Sequence s = model.newSequence(cache)) {
            float[] logits = s.prefill(Arrays.copyOf(text, promptTokens));
            for (int i = 0; i < agreementTokens; i++) {
                out[i] = Sampler.argmax(logits);
                if (i + 1 < agreementTokens) logits = s.forward(out[i]);
            }
        }
        return out;
    }

    private static int agreedPrefix(int[] a, int[] b) {
        int n = 0;
        while (n < a.length && a[n] == b[n]) n++;
        return n;
    }

    private static double[] perLayerMeanRetained(RetentionHistory history, int layers) {
        double[] sum = new double[layers];
        int[] count = new int[layers];
        for (int i = 0; i < history.size(); i++) {
            RetentionHistory.Sample s = history.sample(i);
            sum[s.layer()] += (double) s.retained() / s.fullLength();
            count[s.layer()]++;
        }
        for (int l = 0; l < layers; l++) sum[l] = count[l] == 0 ? 1 : sum[l] / count[l];
        return sum;
    }

    private static double logSumExp(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double sum = 0;
        for (float l : logits) sum += Math.exp(l - max);
        return max + Math.log(sum);
    }

    public static void printTable(List<Row> rows, PrintStream out) {
        out.printf(Locale.ROOT, "%-28s %9s %17s %10s %8s %11s%n", "policy", "retained", "layer spread", "perplexity", "Δppl", "agreement");
        for (Row r : rows) {
            out.printf(Locale.ROOT, "%-28s %8.1f%% %7.1f%%..%5.1f%% %10.3f %+8.3f %5d/%-5d%n", r.label(), 100 * r.meanRetained(),
                    100 * r.layerSpreadMin(), 100 * r.layerSpreadMax(), r.perplexity(), r.deltaPerplexity(),
                    r.agreedTokens(), r.agreementTokens());
        }
    }

    /** Writes retention-per-layer.png (for {@code retentionRow}) and quality-vs-memory.png into {@code dir}. */
    public static void writeCharts(List<Row> rows, Row retentionRow, int layers, java.nio.file.Path dir) throws java.io.IOException {
        QualityCharts.retentionPerLayer(retentionRow.history(), layers, "Retained KV per layer: " + retentionRow.label(),
                dir.resolve("retention-per-layer.png"));
        QualityCharts.qualityAgainstMemory(rows, dir.resolve("quality-vs-memory.png"));
    }
}
