package dev.lethe.store;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.checkpoint.CheckpointCodec;
import dev.lethe.cache.checkpoint.CheckpointInfo;
import dev.lethe.cache.checkpoint.ModelIdentity;
import dev.lethe.cache.checkpoint.RestoredCheckpoint;
import dev.lethe.cache.checkpoint.SamplerState;
import dev.lethe.cache.checkpoint.SequenceState;
import dev.lethe.cache.policy.PolicySpec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real checkpoints for the store tests: a Lethe-pruned cache of random keys and values, and its sequence. */
final class TestCheckpoints {
    static final KvLayout LAYOUT = new KvLayout(3, 2, 16);
    /** Lethe with a short interval, so the small test caches go through several pruning rounds. */
    static final PolicySpec POLICY = PolicySpec.of("lethe", "delta", "8", "sparse-ratio", "20");
    static final ModelIdentity MODEL = new ModelIdentity("model-sha-for-store-tests", "tokenizer-sha-for-store-tests", LAYOUT);

    private TestCheckpoints() {
    }

    /**
     * A cache after a prompt of {@code prompt} tokens and {@code steps} decode steps, with random keys, values
     * and softmax attention, so the Lethe policy scores and prunes as in a real run.
     */
    static OffHeapKvCache cache(long seed, int prompt, int steps) {
        var random = new Random(seed);
        var cache = KvCaches.create(LAYOUT, POLICY);
        appendStep(cache, seed, 0, prompt, random);
        for (int p = prompt; p < prompt + steps; p++) appendStep(cache, seed, p, 1, random);
        return cache;
    }

    /**
     * How much attention a position draws, fixed per position as in real attention (a few tokens matter
     * step after step), so the policy's scores become sparse enough to prune.
     */
    private static double salience(long seed, int position) {
        return new Random(seed * 31 + position).nextGaussian();
    }

    private static void appendStep(OffHeapKvCache cache, long seed, int from, int tokens, Random random) {
        int kvDim = LAYOUT.kvDim();
        int queryHeads = LAYOUT.kvHeads() * 2;
        float[] key = new float[kvDim];
        float[] value = new float[kvDim];
        for (int l = 0; l < LAYOUT.layers(); l++) {
            for (int p = from; p < from + tokens; p++) {
                for (int i = 0; i < kvDim; i++) {
                    key[i] = (float) random.nextGaussian();
                    value[i] = (float) random.nextGaussian();
                }
                cache.append(l, p, key, 0, value, 0);
            }
            int n = cache.length(l);
            float[] probabilities = new float[tokens * queryHeads * n];
            for (int q = 0; q < tokens; q++) {
                int visible = n - tokens + q + 1;
                for (int h = 0; h < queryHeads; h++) {
                    int row = (q * queryHeads + h) * n;
                    double sum = 0;
                    double[] weights = new double[visible];
                    for (int j = 0; j < visible; j++) {
                        sum += weights[j] = Math.exp(4 * (salience(seed, cache.position(l, j)) + 0.3 * random.nextGaussian()));
                    }
                    for (int j = 0; j < visible; j++) probabilities[row + j] = (float) (weights[j] / sum);
                }
            }
            cache.observeAttention(l, probabilities, tokens, queryHeads);
        }
        cache.endStep();
    }

    static SequenceState sequence(long seed) {
        var random = new Random(seed);
        int[] prompt = random.ints(12, 0, 32_000).toArray();
        int[] generated = random.ints(20, 0, 32_000).toArray();
        return new SequenceState(prompt, generated, generated.length - 1, new SamplerState(0.8f, 0.95f, 40, 0.05f, seed, random.nextLong()));
    }

    /** The checkpoint's bytes as the codec writes them, with what the codec reported. */
    record Encoded(byte[] bytes, CheckpointInfo info) {
    }

    static Encoded encode(OffHeapKvCache cache, SequenceState sequence) throws IOException {
        var out = new ByteArrayOutputStream();
        CheckpointInfo info = CheckpointCodec.write(out, MODEL, cache, sequence);
        return new Encoded(out.toByteArray(), info);
    }

    static RestoredCheckpoint decode(InputStream in) throws IOException {
        return CheckpointCodec.read(in, MODEL, KvBlockPool.unbounded(LAYOUT));
    }

    /** Everything the cache holds, bit for bit: its rows directly, then its whole state through a re-encode. */
    static void assertSameCache(OffHeapKvCache expected, OffHeapKvCache actual, SequenceState sequence) throws IOException {
        assertTrue(expected.stats().totalRounds() > 0, "the test cache was pruned before the checkpoint");
        for (int l = 0; l < LAYOUT.layers(); l++) {
            assertEquals(expected.length(l), actual.length(l), "layer " + l + " length");
            for (int s = 0; s < expected.length(l); s++) {
                assertEquals(expected.position(l, s), actual.position(l, s), "layer " + l + " slot " + s);
            }
            assertEquals(-1, expected.keys(l).mismatch(actual.keys(l)), "layer " + l + " keys");
            assertEquals(-1, expected.values(l).mismatch(actual.values(l)), "layer " + l + " values");
        }
        assertArrayEquals(encode(expected, sequence).bytes(), encode(actual, sequence).bytes(), "re-encoded checkpoint");
    }

    static byte[] readAll(InputStream in) throws IOException {
        try (in) {
            return in.readAllBytes();
        }
    }

    static String sha256Hex(byte[] bytes) {
        return HexFormat.of().formatHex(HashingOutputStream.sha256().digest(bytes));
    }

    /** A deterministic pseudo-random stream of {@code bytes} bytes, written in 64 KiB chunks. */
    static void writePseudoRandom(OutputStream out, long seed, long bytes) throws IOException {
        var random = new SplittableRandom(seed);
        byte[] chunk = new byte[1 << 16];
        for (long left = bytes; left > 0; ) {
            random.nextBytes(chunk);
            int n = (int) Math.min(chunk.length, left);
            out.write(chunk, 0, n);
            left -= n;
        }
    }

    /** The SHA-256 (hex) of {@link #writePseudoRandom}'s stream, streamed too. */
    static String pseudoRandomSha256(long seed, long bytes) throws IOException {
        MessageDigest digest = HashingOutputStream.sha256();
        writePseudoRandom(new OutputStream() {
            @Override
            public void write(int b) {
                digest.update((byte) b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                digest.update(b, off, len);
            }
        }, seed, bytes);
        return HexFormat.of().formatHex(digest.digest());
    }

    /** The SHA-256 (hex) of a stream, read to its end in chunks. */
    static String sha256Hex(InputStream in) throws IOException {
        MessageDigest digest = HashingOutputStream.sha256();
        byte[] chunk = new byte[1 << 16];
        try (in) {
            for (int n; (n = in.read(chunk)) > 0; ) digest.update(chunk, 0, n);
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
