package dev.lethe.engine.bench;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.checkpoint.CheckpointCodec;
import dev.lethe.cache.checkpoint.RestoredCheckpoint;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.generate.Generation;
import dev.lethe.engine.generate.TokenListener;
import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testing.ModelShape;
import dev.lethe.store.CheckpointStore;
import dev.lethe.store.StoredCheckpoint;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * {@code lethe bench-checkpoint}: what moving a long job costs, in one run. For jobs of each length, on a model
 * large enough that recomputing is slow (random Q8_0 weights, ~125M parameters, context above the longest job):
 * <ul>
 *   <li>recompute latency: the worker's fallback without a checkpoint, one prefill of the job's tokens
 *       ({@link Generation#recompute}) with the Lethe policy, then the first new token;</li>
 *   <li>checkpoint size of that Lethe-pruned cache next to the KV bytes a full cache would hold;</li>
 *   <li>per store: write MB/s (the put of the serialized bytes, durable; serializing is the decode thread's
 *       part, shown apart) and read MB/s (get, SHA-256 verified, decode into a
 *       cache), next to a plain write + fsync of as many bytes to the same disk;</li>
 *   <li>resume latency: read and restore the checkpoint, then the first new token.</li>
 * </ul>
 * Random weights give flat attention, on which Lethe prunes little by itself (it defers), so the policy runs with
 * a token cap (which tightens τ when exceeded); the table reports the retention each job reached.
 */
public final class CheckpointBench {
    private static final long SEED = 17;
    private static final int PROMPT = 64;

    private CheckpointBench() {}

    /** One row of the table. */
    public record Row(int tokens, String store, long checkpointBytes, long kvBytes, long fullKvBytes, double retained,
                      double serializeMs, double writeMs, double readMs, double diskMbps, double resumeMs,
                      double recomputeMs) {}

    /**
     * @param stores the stores to measure, by name; each gets the same checkpoints
     * @param scratch a folder on the disk of the directory store, for the plain write + fsync reference
     */
    public static List<Row> run(Path modelDir, int[] lengths, Map<String, CheckpointStore> stores, Path scratch, String tokenCap,
                                PrintStream out) throws IOException {
        int longest = 0;
        for (int n : lengths) longest = Math.max(longest, n);
        ModelShape shape = new ModelShape("llama", 768, 12, 12, 4, 2048, 32000, longest + 128, GgmlType.Q8_0, SEED, false);
        Path contextDir = Files.createDirectories(modelDir.resolve("context-" + shape.context())); // the file name omits it
        Path file = CpuBench.ensureModel(shape, contextDir, out);
        PolicySpec policy = PolicySpec.of("lethe", "token-cap", tokenCap);
        SamplingParams sampling = new SamplingParams(0.8f, 0, 0.95f, 0f, SEED, longest * 2, List.of());
        List<Row> rows = new ArrayList<>();
        out.printf(Locale.ROOT, "model: random llama, %,d weights (Q8_0), context %d; policy %s; stores: %s%n",
                shape.parameterCount(), shape.context(), policy, String.join(", ", stores.keySet()));
        out.flush();
        try (Model model = Model.load(file)) {
            warmUp(model, policy, sampling, shape.vocab());
            for (int n : lengths) {
                int[] tokens = tokens(n, shape.vocab());
                int[] prompt = java.util.Arrays.copyOf(tokens, PROMPT);
                int[] delivered = java.util.Arrays.copyOfRange(tokens, PROMPT, n);

                // Recompute: what a worker does without a checkpoint; it also builds the state to checkpoint.
                long t0 = System.nanoTime();
                OffHeapKvCache cache = KvCaches.create(model.kvLayout(), policy);
                Sequence sequence = model.newSequence(cache);
                Generation job = Generation.recompute(sequence, model.tokenizer(), sampling, prompt, delivered);
                job.step(NO_TOKENS);
                double recomputeMs = (System.nanoTime() - t0) / 1e6;
                // The checkpoint is of the state after that first token, as a worker would take it.
                long s0 = System.nanoTime();
                ByteArrayOutputStream blob = new ByteArrayOutputStream();
                CheckpointCodec.write(blob, model.identity(), cache, job.snapshot());
                double serializeMs = (System.nanoTime() - s0) / 1e6;
                byte[] bytes = blob.toByteArray();
                long kvBytes = cache.bytesRetained();
                long fullKvBytes = 0;
                for (int l = 0; l < cache.layout().layers(); l++) fullKvBytes += cache.fullLength(l) * cache.layout().bytesPerTokenPerLayer();
                double retained = (double) kvBytes / fullKvBytes;
                sequence.close();
                double diskMbps = diskWrite(scratch, bytes);

                for (Map.Entry<String, CheckpointStore> entry : stores.entrySet()) {
                    CheckpointStore store = entry.getValue();
                    String jobId = "bench-" + n;
                    long w0 = System.nanoTime();
                    // As a worker does: the decode thread serialized it (above), the store puts the bytes.
                    StoredCheckpoint stored = store.put(jobId, "ck-" + n, o -> o.write(bytes));
                    double writeMs = (System.nanoTime() - w0) / 1e6;

                    long r0 = System.nanoTime();
                    RestoredCheckpoint restored;
                    try (InputStream in = store.openVerified(stored.uri(), stored.bytes(), stored.sha256())) {
                        restored = CheckpointCodec.read(in, model.identity(), KvBlockPool.unbounded(model.kvLayout()));
                    }
                    double readMs = (System.nanoTime() - r0) / 1e6;
                    var state = restored.sequence();
                    try (Sequence resumed = model.resumeSequence(restored.cache(),
                            state.promptTokens().length + state.generatedTokens().length - 1)) {
                        Generation again = Generation.resume(resumed, model.tokenizer(), sampling, state);
                        again.step(NO_TOKENS);
                    }
                    double resumeMs = (System.nanoTime() - r0) / 1e6;
                    store.deleteAllFor(jobId);
                    Row row = new Row(n, entry.getKey(), stored.bytes(), kvBytes, fullKvBytes, retained, serializeMs, writeMs,
                            readMs, diskMbps, resumeMs, recomputeMs);
                    rows.add(row);
                    print(row, out, rows.size() == 1);
                }
            }
        }
        return rows;
    }

    private static final TokenListener NO_TOKENS = (seq, token, text) -> {};

    /** Compiles the hot paths before anything is timed: a short recompute, checkpoint and restore. */
    private static void warmUp(Model model, PolicySpec policy, SamplingParams sampling, int vocab) throws IOException {
        int[] tokens = tokens(PROMPT * 3, vocab);
        try (Sequence sequence = model.newSequence(KvCaches.create(model.kvLayout(), policy))) {
            Generation job = Generation.recompute(sequence, model.tokenizer(), sampling, java.util.Arrays.copyOf(tokens, PROMPT),
                    java.util.Arrays.copyOfRange(tokens, PROMPT, tokens.length));
            job.step(NO_TOKENS);
            ByteArrayOutputStream blob = new ByteArrayOutputStream();
            CheckpointCodec.write(blob, model.identity(), (OffHeapKvCache) sequence.cache(), job.snapshot());
            CheckpointCodec.read(new java.io.ByteArrayInputStream(blob.toByteArray()), model.identity(),
                    KvBlockPool.unbounded(model.kvLayout())).cache().close();
        }
    }

    private static int[] tokens(int n, int vocab) {
        Random random = new Random(SEED + n);
        int[] tokens = new int[n];
        tokens[0] = 1;
        for (int i = 1; i < n; i++) tokens[i] = ModelShape.MIN_VOCAB + random.nextInt(vocab - ModelShape.MIN_VOCAB);
        return tokens;
    }

    /** MB/s of a plain write + fsync of {@code bytes} to the disk of {@code scratch}: the physical reference. */
    private static double diskWrite(Path scratch, byte[] bytes) throws IOException {
        Files.createDirectories(scratch);
        Path file = scratch.resolve("disk-reference.bin");
        long t0 = System.nanoTime();
        try (OutputStream o = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING)) {
            o.write(bytes);
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Files.delete(file);
        return bytes.length / 1e6 / seconds;
    }

    private static void print(Row r, PrintStream out, boolean header) {
        if (header) {
            out.printf(Locale.ROOT, "%7s %-10s %10s %10s %8s %8s %9s %9s %9s %10s %10s %11s%n", "tokens", "store", "ckpt MB",
                    "full KV MB", "kept", "ser ms", "write MB/s", "read MB/s", "disk MB/s", "resume ms", "recompute ms", "recompute/resume");
        }
        double mb = r.checkpointBytes() / 1e6;
        out.printf(Locale.ROOT, "%7d %-10s %10.1f %10.1f %7.1f%% %8.1f %9.1f %9.1f %9.1f %10.1f %12.1f %10.1fx%n", r.tokens(),
                r.store(), mb, r.fullKvBytes() / 1e6, 100 * r.retained(), r.serializeMs(), mb / (r.writeMs() / 1e3),
                mb / (r.readMs() / 1e3), r.diskMbps(), r.resumeMs(), r.recomputeMs(), r.recomputeMs() / r.resumeMs());
        out.flush();
    }
}
