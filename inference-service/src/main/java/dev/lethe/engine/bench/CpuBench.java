package dev.lethe.engine.bench;

import dev.lethe.cache.KvCaches;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.gguf.WeightResidence;
import dev.lethe.engine.gguf.GgufFile;
import dev.lethe.engine.gguf.GgufTensorInfo;
import dev.lethe.engine.tensor.FloatTensor;
import dev.lethe.engine.tensor.MatVec;
import dev.lethe.engine.tensor.Tensors;
import dev.lethe.engine.testing.ModelShape;
import dev.lethe.engine.testing.RandomModels;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * {@code bench-cpu}: how close single-sequence decode on the CPU comes to the memory-bandwidth limit. For each
 * weight type it makes (or reuses) a random model of TinyLlama-1.1B's shape, then measures side by side in one
 * run: one pass of every weight matrix through {@link MatVec}, decode tokens/s through the engine's forward
 * pass, and the machine's read bandwidth with the same number of threads. Decode reads every weight once per
 * token, so weight bytes x tokens/s is the bandwidth it achieves; its ratio to the measured read bandwidth is
 * the figure of merit.
 *
 * <p>Options: {@code --dir DIR} (model cache, default {@code bench/out}), {@code --types F32,F16,Q8_0},
 * {@code --rounds N} (measurement rounds, default 10), {@code --layers N} (fewer layers for a quick run).
 * Threads: {@code -Dlethe.threads=N}.
 */
public final class CpuBench {
    private static final long SEED = 1;
    private static final int WARMUP_TOKENS = 2;

    record Options(Path dir, List<GgmlType> types, int rounds, int layers) {}

    record Row(GgmlType type, long weightBytes, double matvecGBs, double tokensPerSecond, double bandwidthGBs) {}

    private CpuBench() {}

    /** Runs the benchmark and prints its table. */
    public static List<Row> run(String[] args, PrintStream out) throws IOException {
        Options o = parse(args);
        Files.createDirectories(o.dir());
        out.printf("bench-cpu: %d threads, %s vectors, models of TinyLlama-1.1B's shape%s in %s%n", MatVec.threads(),
                jdk.incubator.vector.FloatVector.SPECIES_PREFERRED, o.layers() == 22 ? "" : " with " + o.layers() + " layers", o.dir());
        List<Row> rows = new ArrayList<>();
        for (GgmlType type : o.types()) {
            ModelShape full = ModelShape.llama1B(type, SEED);
            ModelShape shape = new ModelShape(full.arch(), full.dim(), o.layers(), full.heads(), full.kvHeads(), full.ffn(),
                    full.vocab(), full.context(), type, SEED, false);
            Path model = ensureModel(shape, o.dir(), out);
            rows.add(measure(model, type, o.rounds(), out));
        }
        printTable(rows, out);
        return rows;
    }

    private static Options parse(String[] args) {
        Path dir = Path.of("bench", "out");
        List<GgmlType> types = List.of(GgmlType.F32, GgmlType.F16, GgmlType.Q8_0);
        int rounds = 10;
        int layers = ModelShape.llama1B(GgmlType.F32, SEED).layers();
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--dir" -> dir = Path.of(required(args[i], value));
                case "--types" -> {
                    types = new ArrayList<>();
                    for (String t : required(args[i], value).split(",")) types.add(GgmlType.valueOf(t.trim().toUpperCase()));
                }
                case "--rounds" -> rounds = positive(args[i], value);
                case "--layers" -> layers = positive(args[i], value);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (options: --dir DIR, --types F32,F16,Q8_0, --rounds N, --layers N)");
            }
            i++;
        }
        return new Options(dir, types, rounds, layers);
    }

    private static String required(String option, String value) {
        if (value == null) throw new IllegalArgumentException(option + " needs a value");
        return value;
    }

    private static int positive(String option, String value) {
        int n = Integer.parseInt(required(option, value));
        if (n <= 0) throw new IllegalArgumentException(option + " must be positive, got " + n);
        return n;
    }

    /** The cached model for this shape, written first if missing (through a temporary file, so never half). */
    static Path ensureModel(ModelShape s, Path dir, PrintStream out) throws IOException {
        Path path = dir.resolve("random-%s-%dx%d-%s-seed%d.gguf".formatted(s.arch(), s.dim(), s.layers(), s.weightType(), s.seed()));
        if (Files.exists(path)) return path;
        out.printf("writing %s (%,d weights)...%n", path.getFileName(), s.parameterCount());
        long start = System.nanoTime();
        Path partial = dir.resolve(path.getFileName() + ".partial");
        RandomModels.write(s, partial);
        Files.move(partial, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        out.printf("  %.1f s, %,d bytes%n", (System.nanoTime() - start) / 1e9, Files.size(path));
        return path;
    }

    /**
     * Rounds of (one MatVec pass, one decode step, one bandwidth run), best of each: interleaving exposes all three
     * to the same interference from other processes, and the best run is what the machine does undisturbed.
     */
    private static Row measure(Path path, GgmlType type, int rounds, PrintStream out) throws IOException {
        // In memory, not mapped: the kernel's reclaim of idle file pages would make this a disk benchmark.
        try (Model model = Model.load(path, WeightResidence.MEMORY);
             MemoryBandwidth bandwidth = MemoryBandwidth.allocate(MemoryBandwidth.DEFAULT_BYTES, MatVec.threads());
             Sequence decoder = model.newSequence(KvCaches.full(model.kvLayout()))) {
            GgufFile file = model.gguf();
            List<GgufTensorInfo> streamed = streamedPerToken(file);
            long weightBytes = streamed.stream().mapToLong(t -> t.data().byteSize()).sum();
            MatVecPass pass = new MatVecPass(streamed);
            pass.run(); // pages the file in and compiles the kernels
            int token = 1;
            for (int i = 0; i < WARMUP_TOKENS; i++) token = Sampler.argmax(decoder.forward(token));
            double matvec = 0, tokensPerSecond = 0, readGBs = 0;
            for (int round = 0; round < rounds; round++) {
                matvec = Math.max(matvec, pass.run());
                long start = System.nanoTime();
                token = Sampler.argmax(decoder.forward(token));
                tokensPerSecond = Math.max(tokensPerSecond, 1e9 / (System.nanoTime() - start));
                readGBs = Math.max(readGBs, bandwidth.runOnce());
            }
            out.printf("%s: MatVec pass %.1f GB/s, decode %.2f tokens/s, read bandwidth %.1f GB/s%n", type, matvec, tokensPerSecond, readGBs);
            return new Row(type, weightBytes, matvec, tokensPerSecond, readGBs);
        }
    }

    /** Every tensor a decode step reads in full: all but the token embedding, of which it reads one row. */
    private static List<GgufTensorInfo> streamedPerToken(GgufFile file) {
        boolean tied = !file.hasTensor("output.weight");
        return file.tensors().values().stream().filter(t -> tied || !t.name().equals("token_embd.weight")).toList();
    }

    /** One product of every weight matrix with a vector. */
    private static final class MatVecPass {
        private final List<GgufTensorInfo> matrices;
        private final List<FloatTensor> weights;
        private final long bytes;
        private final float[] x;
        private final float[] y;

        MatVecPass(List<GgufTensorInfo> tensors) {
            matrices = tensors.stream().filter(t -> t.dims().length == 2).toList();
            weights = matrices.stream().map(Tensors::of).toList();
            bytes = matrices.stream().mapToLong(t -> t.data().byteSize()).sum();
            x = new float[matrices.stream().mapToInt(t -> (int) t.dims()[0]).max().orElse(0)];
            y = new float[matrices.stream().mapToInt(t -> (int) t.dims()[1]).max().orElse(0)];
            Random random = new Random(SEED);
            for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        }

        /** GB/s of one pass. */
        double run() {
            long start = System.nanoTime();
            for (int m = 0; m < matrices.size(); m++) {
                MatVec.multiply(weights.get(m), (int) matrices.get(m).dims()[1], (int) matrices.get(m).dims()[0], x, y, 1);
            }
            return bytes / (double) (System.nanoTime() - start);
        }
    }

    private static void printTable(List<Row> rows, PrintStream out) {
        out.println();
        out.printf("%-5s %12s %10s %8s %10s %10s %8s %8s%n",
                "type", "weight MB", "MatVec GB/s", "tok/s", "decode GB/s", "read GB/s", "MatVec/bw", "decode/bw");
        for (Row r : rows) {
            double decode = r.weightBytes() * r.tokensPerSecond() / 1e9;
            out.printf("%-5s %12.0f %11.1f %8.2f %11.1f %10.1f %9.2f %9.2f%n", r.type(), r.weightBytes() / 1e6, r.matvecGBs(),
                    r.tokensPerSecond(), decode, r.bandwidthGBs(), r.matvecGBs() / r.bandwidthGBs(), decode / r.bandwidthGBs());
        }
        out.println("decode GB/s = weight bytes x tok/s (every weight read once per token); read GB/s: a "
                + MemoryBandwidth.DEFAULT_BYTES / (1 << 20) + " MiB vector read loop on the same threads; each the best of the rounds");
    }
}
