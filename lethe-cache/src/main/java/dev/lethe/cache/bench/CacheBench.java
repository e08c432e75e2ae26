package dev.lethe.cache.bench;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.checkpoint.CheckpointCodec;
import dev.lethe.cache.checkpoint.ModelIdentity;
import dev.lethe.cache.checkpoint.SamplerState;
import dev.lethe.cache.checkpoint.SequenceState;
import dev.lethe.cache.policy.PolicySpec;

import java.io.BufferedInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Measures the cost of Lethe's bookkeeping at a realistic shape, and the checkpoint codec's throughput next to
 * this machine's disk write rate, all in one run:
 * <pre>
 *   java -cp lethe-cache/target/classes dev.lethe.cache.bench.CacheBench [--layers 32] [--kv-heads 8]
 *        [--head-dim 128] [--query-heads 32] [--tokens 4096] [--steps 64] [--rounds 5]
 * </pre>
 * Scoring is {@code observeAttention} for every layer of one decode step (summing the probabilities of all
 * query heads and applying RASR); a round is {@code endStep} when every layer is over its threshold (sort,
 * breakpoint, compaction, blocks returned). The attention probabilities are synthetic (a fixed salience per
 * position, so rounds find breakpoints as real attention does) and not timed.
 */
public final class CacheBench {
    private CacheBench() {
    }

    public static void main(String[] args) throws IOException {
        int layers = intArg(args, "--layers", 32);
        int kvHeads = intArg(args, "--kv-heads", 8);
        int headDim = intArg(args, "--head-dim", 128);
        int queryHeads = intArg(args, "--query-heads", 32);
        int tokens = intArg(args, "--tokens", 4096);
        int steps = intArg(args, "--steps", 64);
        int rounds = intArg(args, "--rounds", 5);
        var layout = new KvLayout(layers, kvHeads, headDim);
        var salience = new Salience(tokens + steps + 1, new Random(42));
        System.out.printf("layout %d layers x %d KV heads x %d dims, %d query heads, %d cached tokens (%.0f MiB of K+V)%n",
                layers, kvHeads, headDim, queryHeads, tokens, (double) tokens * layers * layout.bytesPerTokenPerLayer() / (1 << 20));

        // Scoring per decode step, with Lethe's default thresholds (no round falls in these steps).
        double scoringMs;
        double stepEndMs;
        try (var cache = prefilled(layout, PolicySpec.of("lethe"), tokens, tokens)) {
            long scoring = 0;
            long ending = 0;
            int warmup = Math.min(8, steps / 4);
            for (int s = 0; s < steps; s++) {
                int position = tokens + s;
                appendToken(cache, position, salience.random);
                float[][] probs = new float[layers][];
                for (int l = 0; l < layers; l++) probs[l] = salience.attention(cache, l, queryHeads);
                long t0 = System.nanoTime();
                for (int l = 0; l < layers; l++) cache.observeAttention(l, probs[l], 1, queryHeads);
                long t1 = System.nanoTime();
                cache.endStep();
                long t2 = System.nanoTime();
                if (s >= warmup) {
                    scoring += t1 - t0;
                    ending += t2 - t1;
                }
            }
            scoringMs = scoring / 1e6 / (steps - warmup);
            stepEndMs = ending / 1e6 / (steps - warmup);
        }

        // A round in every layer at the full length: threshold 0 (prompt length 0, delta 0).
        long roundNanos = 0;
        long keptTokens = 0;
        long freedBytes = 0;
        for (int r = 0; r < rounds + 1; r++) {
            try (var cache = prefilled(layout, PolicySpec.of("lethe", "delta", "0"), tokens, 0)) {
                for (int l = 0; l < layers; l++) cache.observeAttention(l, salience.attention(cache, l, queryHeads), 1, queryHeads);
                long held = cache.bytesHeld();
                long t0 = System.nanoTime();
                cache.endStep();
                long t1 = System.nanoTime();
                if (r > 0) {
                    roundNanos += t1 - t0;
                    for (int l = 0; l < layers; l++) keptTokens += cache.length(l);
                    freedBytes += held - cache.bytesHeld();
                }
            }
        }
        double roundMs = roundNanos / 1e6 / rounds;
        double amortised = scoringMs + stepEndMs + roundMs / 256;

        System.out.println();
        System.out.println("| Lethe bookkeeping per decode step (all layers)      | ms      |");
        System.out.println("|-----------------------------------------------------|---------|");
        System.out.printf("| scoring: relevance sum + RASR                       | %7.3f |%n", scoringMs);
        System.out.printf("| endStep without a round (threshold checks)          | %7.3f |%n", stepEndMs);
        System.out.printf("| one round in every layer at %5d tokens             | %7.3f |%n", tokens, roundMs);
        System.out.printf("| amortised per step, a round every delta=256 steps   | %7.3f |%n", amortised);
        System.out.printf("(the rounds kept %.1f%% of the tokens and returned %.0f MiB each)%n",
                100.0 * keptTokens / rounds / ((long) tokens * layers), freedBytes / rounds / (double) (1 << 20));

        // Checkpoint throughput, next to a plain write + fsync of the same size.
        try (var cache = prefilled(layout, PolicySpec.of("lethe"), tokens, tokens)) {
            var model = new ModelIdentity("bench-model", "bench-tokenizer", layout);
            var sequence = new SequenceState(new int[tokens], new int[0], -1, new SamplerState(0.7f, 0.9f, 40, 0.05f, 1, 1));
            Path file = Files.createTempFile("lethe-bench", ".ckpt");
            Path raw = Files.createTempFile("lethe-bench", ".raw");
            try {
                CheckpointCodec.write(OutputStream.nullOutputStream(), model, cache, sequence); // warm-up
                long t0 = System.nanoTime();
                var info = CheckpointCodec.write(OutputStream.nullOutputStream(), model, cache, sequence);
                long t1 = System.nanoTime();
                long t2;
                long t3;
                try (var out = new FileOutputStream(file.toFile())) {
                    t2 = System.nanoTime();
                    CheckpointCodec.write(out, model, cache, sequence);
                    out.getChannel().force(true);
                    t3 = System.nanoTime();
                }
                long t4 = 0;
                long t5 = 0;
                for (int pass = 0; pass < 2; pass++) { // the second pass is timed: the first warms the JIT
                    t4 = System.nanoTime();
                    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
                        CheckpointCodec.read(in, model, KvBlockPool.unbounded(layout)).cache().close();
                    }
                    t5 = System.nanoTime();
                }
                long t6;
                long t7;
                byte[] block = new byte[1 << 20];
                new Random(1).nextBytes(block);
                try (var out = new FileOutputStream(raw.toFile())) {
                    t6 = System.nanoTime();
                    for (long done = 0; done < info.bytes(); done += block.length) {
                        out.write(block, 0, (int) Math.min(block.length, info.bytes() - done));
                    }
                    out.getChannel().force(true);
                    t7 = System.nanoTime();
                }
                double mb = info.bytes() / 1e6;
                System.out.println();
                System.out.printf("| checkpoint of %8.1f MB                  | MB/s    |%n", mb);
                System.out.println("|-------------------------------------------|---------|");
                System.out.printf("| encode (CRC32C + SHA-256), to nowhere     | %7.0f |%n", mb / ((t1 - t0) / 1e9));
                System.out.printf("| encode to a file + fsync                  | %7.0f |%n", mb / ((t3 - t2) / 1e9));
                System.out.printf("| decode from that file (page cache), into  | %7.0f |%n", mb / ((t5 - t4) / 1e9));
                System.out.println("|   freshly allocated cache memory          |         |");
                System.out.printf("| plain write + fsync of as many bytes      | %7.0f |%n", mb / ((t7 - t6) / 1e9));
            } finally {
                Files.deleteIfExists(file);
                Files.deleteIfExists(raw);
            }
        }
    }

    /** A cache holding {@code tokens} tokens with random keys and values; the first step has ended. */
    private static OffHeapKvCache prefilled(KvLayout layout, PolicySpec spec, int tokens, int declaredPrompt) {
        var cache = KvCaches.create(layout, spec);
        cache.declarePromptLength(declaredPrompt);
        var random = new Random(7);
        for (int p = 0; p < tokens; p++) appendToken(cache, p, random);
        if (declaredPrompt > 0) cache.endStep();
        return cache;
    }

    private static void appendToken(OffHeapKvCache cache, int position, Random random) {
        int kvDim = cache.layout().kvDim();
        float[] key = new float[kvDim];
        float[] value = new float[kvDim];
        for (int i = 0; i < kvDim; i++) {
            key[i] = (float) random.nextGaussian();
            value[i] = (float) random.nextGaussian();
        }
        for (int l = 0; l < cache.layout().layers(); l++) cache.append(l, position, key, 0, value, 0);
    }

    /** Attention with a fixed salience per position (sharper in some layers), normalised per head. */
    private static final class Salience {
        final float[] weight;
        final Random random;

        Salience(int positions, Random random) {
            this.random = random;
            this.weight = new float[positions];
            for (int p = 0; p < positions; p++) weight[p] = (float) Math.exp(2.5 * random.nextGaussian());
        }

        float[] attention(OffHeapKvCache cache, int layer, int heads) {
            int n = cache.length(layer);
            float[] probs = new float[heads * n];
            for (int h = 0; h < heads; h++) {
                float sum = 0;
                for (int j = 0; j < n; j++) {
                    float w = weight[cache.position(layer, j)] * (1 + 0.2f * random.nextFloat());
                    probs[h * n + j] = w;
                    sum += w;
                }
                for (int j = 0; j < n; j++) probs[h * n + j] /= sum;
            }
            return probs;
        }
    }

    private static int intArg(String[] args, String name, int defaultValue) {
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals(name)) {
                try {
                    return Integer.parseInt(args[i + 1]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(name + " needs an integer, got '" + args[i + 1] + "'");
                }
            }
        }
        return defaultValue;
    }
}
