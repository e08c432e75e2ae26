package dev.lethe.engine.gpu;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.tensor.F32Tensor;
import dev.lethe.engine.tensor.MatVec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs every GPU kernel against its CPU twin on fresh random inputs (the CPU engine's code where it has
 * one, else a float64 reference written here), then, given a model, the whole GPU forward pass against the
 * CPU engine. Prints one table row per check (max absolute error, relative error ||gpu - cpu|| / ||cpu||,
 * tolerance, pass/fail) and exits 1 if any check fails, 2 if the GPU backend is unavailable.
 *
 * <p>Usage: {@code GpuSelfTest [--model stories260K.gguf [--golden stories260K.greedy-golden.json]]}
 */
public final class GpuSelfTest {
    record Check(String name, double maxAbs, double relative, double tolerance, String note) {
        boolean passed() {
            return Double.isFinite(maxAbs) && Double.isFinite(relative) && relative <= tolerance;
        }
    }

    private final GpuDevice device;
    private final Kernels kernels;
    private final Random random;
    private final List<Check> checks = new ArrayList<>();

    private GpuSelfTest(GpuDevice device, long seed) {
        this.device = device;
        this.kernels = device.kernels();
        this.random = new Random(seed);
    }

    public static void main(String[] args) throws Exception {
        Path modelPath = null, goldenPath = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> modelPath = Path.of(args[++i]);
                case "--golden" -> goldenPath = Path.of(args[++i]);
                default -> {
                    System.err.println("unknown argument " + args[i] + "; usage: GpuSelfTest [--model FILE [--golden FILE]]");
                    System.exit(2);
                }
            }
        }
        long seed = System.nanoTime();
        GpuDevice device;
        try {
            device = GpuDevice.open(0);
        } catch (GpuUnavailableException e) {
            System.err.println("GPU backend unavailable: " + e.getMessage());
            System.exit(2);
            return;
        }
        boolean passed;
        try (device) {
            System.out.printf(Locale.ROOT, "device: %s, %.1f GiB; random seed %d%n", device.name(), device.totalMemory() / (double) (1L << 30), seed);
            GpuSelfTest test = new GpuSelfTest(device, seed);
            test.kernelChecks();
            BatchSelfTest batch = new BatchSelfTest(device, test.random, test.checks);
            batch.kernelChecks();
            if (modelPath != null) new ModelParity(device, modelPath, goldenPath, test.checks, batch).run();
            passed = test.printTable();
        }
        System.exit(passed ? 0 : 1);
    }

    private boolean printTable() {
        System.out.printf(Locale.ROOT, "%-46s %12s %12s %10s  %s%n", "check", "max abs err", "rel err", "tolerance", "result");
        int failed = 0;
        for (Check c : checks) {
            if (!c.passed()) failed++;
            System.out.printf(Locale.ROOT, "%-46s %12.3e %12.3e %10.1e  %s%s%n", c.name(), c.maxAbs(), c.relative(), c.tolerance(),
                    c.passed() ? "pass" : "FAIL", c.note().isEmpty() ? "" : "  (" + c.note() + ")");
        }
        System.out.printf(Locale.ROOT, "%d passed, %d failed%n", checks.size() - failed, failed);
        return failed == 0;
    }

    static Check compare(String name, float[] gpu, double[] cpu, double tolerance, String note) {
        if (gpu.length != cpu.length) throw new IllegalArgumentException(name + ": lengths " + gpu.length + " vs " + cpu.length);
        double maxAbs = 0, diff2 = 0, ref2 = 0;
        for (int i = 0; i < gpu.length; i++) {
            double d = gpu[i] - cpu[i];
            if (Double.isNaN(d)) maxAbs = Double.NaN;
            else maxAbs = Math.max(maxAbs, Math.abs(d));
            diff2 += d * d;
            ref2 += cpu[i] * cpu[i];
        }
        return new Check(name, maxAbs, Math.sqrt(diff2 / Math.max(ref2, 1e-300)), tolerance, note);
    }

    private float[] randoms(int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (random.nextGaussian() * scale);
        return a;
    }

    /** A device buffer of n floats, all NaN, so that an element the kernel fails to write fails the check. */
    private static DeviceBuffer poisoned(int n) {
        float[] nan = new float[n];
        Arrays.fill(nan, Float.NaN);
        return DeviceBuffer.of(nan);
    }

    private static float[] download(DeviceBuffer b, int n) {
        float[] out = new float[n];
        b.download(out, 0, n, 0);
        return out;
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    private void kernelChecks() {
        for (GgmlType type : List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0)) embedding(type);
        rmsNorm(3, 4096);
        rmsNorm(5, 64);
        rope(false);
        rope(true);
        matVecF32Engine(1000, 4096, 1);
        matVecF32Engine(1000, 4096, 11);
        matVecF32Engine(77, 172, 3);
        for (GgmlType type : List.of(GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0)) {
            matVec(type, 1000, 4096, 1);
            matVec(type, 333, 1024, 9);
        }
        attention(1, 8, 2, 128, 300);
        attention(4, 8, 8, 64, 50);
        attention(1, 32, 8, 128, 2000);
        attention(16, 32, 8, 128, 700);
        softmax(2, 1000, 0.7f);
        argmax(128256);
        swiglu(10_000);
        addAndBias(4, 1000);
        gatherRows(100, 256);
        randomFill();
        copy(1 << 20);
        device.synchronize();
    }

    private void embedding(GgmlType type) {
        int vocab = 300, dim = 256, n = 7;
        float[] table = randoms(vocab * dim, 1f);
        byte[] stored = HostWeights.encode(table, type);
        float[] decoded = HostWeights.decode(stored, type, table.length);
        int[] tokens = new int[n];
        for (int t = 0; t < n; t++) tokens[t] = random.nextInt(vocab);
        tokens[n - 1] = vocab - 1;
        try (DeviceBuffer w = DeviceBuffer.of(stored); DeviceBuffer tok = DeviceBuffer.of(tokens); DeviceBuffer x = poisoned(n * dim)) {
            kernels.embedding(new DeviceMatrix(w, type, vocab, dim), tok.pointer(), x.pointer(), n);
            double[] ref = new double[n * dim];
            for (int t = 0; t < n; t++) for (int i = 0; i < dim; i++) ref[t * dim + i] = decoded[tokens[t] * dim + i];
            checks.add(compare("embedding " + type, download(x, n * dim), ref, 0, "exact"));
        }
    }

    private void rmsNorm(int rows, int size) {
        float[] in = randoms(rows * size, 2f), weight = randoms(size, 1f);
        float eps = 1e-5f;
        try (DeviceBuffer x = DeviceBuffer.of(in); DeviceBuffer w = DeviceBuffer.of(weight); DeviceBuffer y = poisoned(rows * size)) {
            kernels.rmsNorm(x.pointer(), y.pointer(), w.pointer(), rows, size, eps);
            double[] ref = new double[rows * size];
            for (int r = 0; r < rows; r++) {
                double ss = 0;
                for (int i = 0; i < size; i++) ss += (double) in[r * size + i] * in[r * size + i];
                double scale = 1 / Math.sqrt(ss / size + eps);
                for (int i = 0; i < size; i++) ref[r * size + i] = weight[i] * scale * in[r * size + i];
            }
            checks.add(compare("rmsnorm " + rows + "x" + size, download(y, rows * size), ref, 1e-6, ""));
        }
    }

    private void rope(boolean neox) {
        int n = 3, heads = 4, headDim = 128, stride = heads * headDim + 64, start = 1000 + random.nextInt(100_000);
        double theta = 500_000;
        double[] inverse = new double[headDim / 2];
        for (int i = 0; i < inverse.length; i++) inverse[i] = Math.pow(theta, -2.0 * i / headDim);
        float[] in = randoms(n * stride, 1f);
        try (DeviceBuffer x = DeviceBuffer.of(in); DeviceBuffer f = DeviceBuffer.of(inverse)) {
            kernels.rope(x.pointer(), n, heads, stride, headDim, start, f.pointer(), neox);
            double[] ref = toDouble(in);
            int half = headDim / 2;
            for (int t = 0; t < n; t++) {
                for (int h = 0; h < heads; h++) {
                    for (int i = 0; i < half; i++) {
                        int a = t * stride + h * headDim + (neox ? i : 2 * i);
                        int b = t * stride + h * headDim + (neox ? i + half : 2 * i + 1);
                        double angle = (double) (start + t) * inverse[i];
                        double x0 = in[a], x1 = in[b];
                        ref[a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                        ref[b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
                    }
                }
            }
            checks.add(compare("rope " + (neox ? "neox (qwen)" : "adjacent pairs (llama)") + " pos " + start,
                    download(x, n * stride), ref, 1e-6, "untouched tail of each row too"));
        }
    }

    /** F32 weights against the CPU engine's own multithreaded Vector API product. */
    private void matVecF32Engine(int rows, int cols, int n) {
        float[] w = randoms(rows * cols, 1f), x = randoms(n * cols, 1f);
        try (Arena arena = Arena.ofShared(); // the engine's product runs on several threads
             DeviceBuffer dw = DeviceBuffer.of(HostWeights.encode(w, GgmlType.F32));
             DeviceBuffer dx = DeviceBuffer.of(x);
             DeviceBuffer dout = poisoned(n * rows)) {
            MemorySegment segment = arena.allocate((long) w.length * Float.BYTES, 64);
            MemorySegment.copy(w, 0, segment, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, w.length);
            float[] cpu = new float[n * rows];
            MatVec.multiply(new F32Tensor(segment), rows, cols, x, cpu, n);
            kernels.matVec(new DeviceMatrix(dw, GgmlType.F32, rows, cols), dx.pointer(), dout.pointer(), n);
            checks.add(compare("matvec F32 " + rows + "x" + cols + " batch " + n, download(dout, n * rows), toDouble(cpu), 1e-5,
                    "twin: engine MatVec" + (cols % 8 != 0 ? ", scalar path" : "")));
        }
    }

    /** F16/BF16/Q8_0 weights against a float64 product of the same stored (dequantized) weights. */
    private void matVec(GgmlType type, int rows, int cols, int n) {
        float[] w = randoms(rows * cols, 1f), x = randoms(n * cols, 1f);
        byte[] stored = HostWeights.encode(w, type);
        float[] decoded = HostWeights.decode(stored, type, w.length);
        try (DeviceBuffer dw = DeviceBuffer.of(stored); DeviceBuffer dx = DeviceBuffer.of(x); DeviceBuffer dout = poisoned(n * rows)) {
            kernels.matVec(new DeviceMatrix(dw, type, rows, cols), dx.pointer(), dout.pointer(), n);
            double[] ref = new double[n * rows];
            for (int b = 0; b < n; b++) {
                for (int r = 0; r < rows; r++) {
                    double s = 0;
                    for (int c = 0; c < cols; c++) s += (double) decoded[r * cols + c] * x[b * cols + c];
                    ref[b * rows + r] = s;
                }
            }
            checks.add(compare("matvec " + type + " " + rows + "x" + cols + " batch " + n, download(dout, n * rows), ref, 1e-5, ""));
        }
    }

    private void attention(int n, int heads, int kvHeads, int headDim, int length) {
        int kvDim = kvHeads * headDim, group = heads / kvHeads;
        float[] q = randoms(n * heads * headDim, 1f), keys = randoms(length * kvDim, 1f), values = randoms(length * kvDim, 1f);
        float scale = (float) (1 / Math.sqrt(headDim));
        try (DeviceBuffer dq = DeviceBuffer.of(q); DeviceBuffer dk = DeviceBuffer.of(keys); DeviceBuffer dv = DeviceBuffer.of(values);
             DeviceBuffer probs = poisoned(n * heads * length); DeviceBuffer out = poisoned(n * heads * headDim);
             DeviceBuffer workspace = DeviceBuffer.allocate(Kernels.attentionWorkspaceBytes(n, heads, headDim))) {
            kernels.attention(dq.pointer(), dk.pointer(), dv.pointer(), probs.pointer(), out.pointer(), workspace,
                    n, heads, kvHeads, headDim, length, scale);
            double[] refProbs = new double[n * heads * length], refOut = new double[n * heads * headDim];
            for (int t = 0; t < n; t++) {
                int visible = length - n + 1 + t;
                for (int h = 0; h < heads; h++) {
                    int kvh = h / group, row = (t * heads + h) * length;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s < visible; s++) {
                        double d = 0;
                        for (int i = 0; i < headDim; i++) d += (double) q[(t * heads + h) * headDim + i] * keys[s * kvDim + kvh * headDim + i];
                        refProbs[row + s] = d * scale;
                        max = Math.max(max, d * scale);
                    }
                    double sum = 0;
                    for (int s = 0; s < visible; s++) sum += refProbs[row + s] = Math.exp(refProbs[row + s] - max);
                    for (int s = 0; s < visible; s++) {
                        refProbs[row + s] /= sum;
                        for (int i = 0; i < headDim; i++) {
                            refOut[(t * heads + h) * headDim + i] += refProbs[row + s] * values[s * kvDim + kvh * headDim + i];
                        }
                    }
                }
            }
            String shape = String.format(Locale.ROOT, "q%d h%d/kv%d d%d len %d", n, heads, kvHeads, headDim, length);
            checks.add(compare("attention out " + shape, download(out, refOut.length), refOut, 1e-5, ""));
            checks.add(compare("attention probabilities " + shape, download(probs, refProbs.length), refProbs, 1e-5, "masked slots 0"));
        }
    }

    private void softmax(int rows, int n, float temperature) {
        float[] in = randoms(rows * n, 3f);
        try (DeviceBuffer x = DeviceBuffer.of(in)) {
            kernels.softmax(x.pointer(), rows, n, temperature);
            double[] ref = new double[rows * n];
            for (int r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int i = 0; i < n; i++) max = Math.max(max, in[r * n + i] / (double) temperature);
                for (int i = 0; i < n; i++) sum += ref[r * n + i] = Math.exp(in[r * n + i] / (double) temperature - max);
                for (int i = 0; i < n; i++) ref[r * n + i] /= sum;
            }
            checks.add(compare("softmax " + rows + "x" + n + " T=" + temperature, download(x, rows * n), ref, 1e-5, ""));
        }
    }

    private void argmax(int n) {
        float[] logits = randoms(n, 5f);
        int planted = random.nextInt(n);
        logits[planted] = 100f;
        logits[random.nextInt(n)] = 100f; // a tie: the lower index must win, as on the CPU
        int expected = Sampler.argmax(logits);
        try (DeviceBuffer x = DeviceBuffer.of(logits); DeviceBuffer out = DeviceBuffer.of(new int[] {-1})) {
            kernels.argmax(x.pointer(), n, out.pointer());
            int[] got = new int[1];
            out.download(got, 1);
            checks.add(new Check("argmax over " + n, got[0] == expected ? 0 : Math.abs(got[0] - expected),
                    got[0] == expected ? 0 : 1, 0, "twin: engine Sampler.argmax; gpu " + got[0] + ", cpu " + expected));
        }
    }

    private void swiglu(int n) {
        float[] g = randoms(n, 3f), u = randoms(n, 1f);
        try (DeviceBuffer dg = DeviceBuffer.of(g); DeviceBuffer du = DeviceBuffer.of(u)) {
            kernels.swiglu(dg.pointer(), du.pointer(), n);
            double[] ref = new double[n];
            for (int i = 0; i < n; i++) ref[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
            checks.add(compare("swiglu " + n, download(dg, n), ref, 1e-6, ""));
        }
    }

    private void addAndBias(int rows, int width) {
        float[] x = randoms(rows * width, 1f), y = randoms(rows * width, 1f), bias = randoms(width, 1f);
        try (DeviceBuffer dx = DeviceBuffer.of(x); DeviceBuffer dy = DeviceBuffer.of(y); DeviceBuffer db = DeviceBuffer.of(bias)) {
            kernels.add(dx.pointer(), dy.pointer(), (long) rows * width);
            kernels.addBias(dx.pointer(), db.pointer(), width, (long) rows * width);
            double[] ref = new double[rows * width];
            for (int i = 0; i < ref.length; i++) ref[i] = (x[i] + y[i]) + bias[i % width];
            checks.add(compare("add + add_bias " + rows + "x" + width, download(dx, ref.length), ref, 1e-7, ""));
        }
    }

    private void gatherRows(int rows, int width) {
        float[] src = randoms(rows * width, 1f);
        int[] kept = random.ints(0, rows).distinct().limit(rows / 3).sorted().toArray();
        try (DeviceBuffer s = DeviceBuffer.of(src); DeviceBuffer d = poisoned(kept.length * width); DeviceBuffer index = DeviceBuffer.of(kept)) {
            kernels.gatherRows(s.pointer(), d.pointer(), index.pointer(), kept.length, width);
            double[] ref = new double[kept.length * width];
            for (int i = 0; i < kept.length; i++) for (int j = 0; j < width; j++) ref[i * width + j] = src[kept[i] * width + j];
            checks.add(compare("gather_rows (KV compaction) " + kept.length + " of " + rows, download(d, ref.length), ref, 0, "exact"));
        }
    }

    /** The device RNG: values inside ±scale, mean near 0, variance near scale²/3, same seed same values. */
    private void randomFill() {
        int n = 1 << 20;
        float scale = 0.05f;
        try (DeviceBuffer a = DeviceBuffer.allocate(2L * n); DeviceBuffer b = DeviceBuffer.allocate(2L * n)) {
            kernels.fillRandom(a, GgmlType.BF16, 42, scale);
            kernels.fillRandom(b, GgmlType.BF16, 42, scale);
            byte[] ab = new byte[2 * n], bb = new byte[2 * n];
            a.download(ab);
            b.download(bb);
            float[] v = HostWeights.decode(ab, GgmlType.BF16, n);
            double sum = 0, sum2 = 0, outside = 0;
            for (float f : v) {
                sum += f;
                sum2 += (double) f * f;
                if (Math.abs(f) > scale * 1.004) outside++; // bf16 rounding may pass the bound by half an ulp
            }
            double mean = sum / n, variance = sum2 / n - mean * mean, expected = scale * scale / 3;
            double error = Math.max(Math.abs(mean) / scale, Math.abs(variance / expected - 1)) + outside;
            checks.add(new Check("fill_random_bf16 2^20", error, error, 0.01,
                    String.format(Locale.ROOT, "mean %.2e, variance/expected %.4f, repeatable %b", mean, variance / expected, Arrays.equals(ab, bb))));
            if (!Arrays.equals(ab, bb)) checks.add(new Check("fill_random_bf16 repeatable", 1, 1, 0, "same seed, different values"));
        }
    }

    private void copy(int floats) {
        float[] src = randoms(floats, 1f);
        try (DeviceBuffer s = DeviceBuffer.of(src); DeviceBuffer d = poisoned(floats)) {
            kernels.copy(s.pointer(), d.pointer(), (long) floats * Float.BYTES);
            checks.add(compare("copy16 " + floats * 4L + " bytes", download(d, floats), toDouble(src), 0, "exact"));
        }
    }

    /** The GPU forward pass against the CPU engine on a real model. */
    private record ModelParity(GpuDevice device, Path modelPath, Path goldenPath, List<Check> checks, BatchSelfTest batch) {
        static final int STEPS = 128;

        void run() throws Exception {
            try (Model model = Model.load(modelPath); GpuModel gpu = GpuModel.upload(device, model)) {
                int bos = model.tokenizer().bosId();
                Greedy cpuFull = cpuGreedy(model, PolicySpec.of("full"), bos, STEPS);
                Greedy gpuFull;
                try (GpuSequence s = GpuSequence.mirroring(gpu, KvCaches.full(model.kvLayout()))) {
                    gpuFull = greedy(s, bos, STEPS);
                }
                checks.add(ids("greedy ids gpu vs cpu, full cache, " + STEPS + " steps", gpuFull.ids, cpuFull.ids));
                checks.add(compare("logits gpu vs cpu, " + STEPS + " steps", gpuFull.logits, cpuFull.logits, 1e-5,
                        String.format(Locale.ROOT, "max abs tolerance 1e-4: %s", maxAbs(gpuFull.logits, cpuFull.logits) <= 1e-4 ? "met" : "MISSED")));
                if (maxAbs(gpuFull.logits, cpuFull.logits) > 1e-4) {
                    checks.add(new Check("logits max abs <= 1e-4", maxAbs(gpuFull.logits, cpuFull.logits), 1, 0, ""));
                }
                if (goldenPath != null) {
                    int[] golden = goldenIds(goldenPath);
                    // golden ids[0] is BOS; ids[i+1] is the greedy choice after feeding ids[i]
                    checks.add(ids("greedy ids gpu vs golden (run.c/f64)", gpuFull.ids, Arrays.copyOfRange(golden, 1, 1 + STEPS)));
                }
                try (GpuSequence s = GpuSequence.deviceOnly(gpu, model.config().contextLength())) {
                    int[] ids = new int[STEPS];
                    int token = bos;
                    for (int i = 0; i < STEPS; i++) ids[i] = token = s.forwardGreedy(token);
                    checks.add(ids("greedy ids, device-only cache + device argmax", ids, cpuFull.ids));
                }
                prefill(model, gpu, cpuFull);
                lethe(model, gpu, bos);
                batch.modelChecks(model, gpu);
            }
        }

        /** A prompt of three prefill chunks (the CPU's greedy continuation) through both engines' prefill. */
        private void prefill(Model model, GpuModel gpu, Greedy cpuFull) {
            int[] prompt = new int[41];
            prompt[0] = model.tokenizer().bosId();
            System.arraycopy(cpuFull.ids, 0, prompt, 1, prompt.length - 1);
            float[] cpu;
            try (Sequence s = model.newSequence(KvCaches.full(model.kvLayout()))) {
                cpu = s.prefill(prompt).clone();
            }
            try (GpuSequence s = GpuSequence.mirroring(gpu, KvCaches.full(model.kvLayout()))) {
                checks.add(compare("prefill 41 tokens (3 chunks), last logits", s.prefill(prompt), cpu, 1e-5, ""));
            }
        }

        /**
         * Lethe pruning driven from the GPU's attention: pruning rounds must run, the device cache must hold
         * exactly the host cache's keys and values afterwards, and the tokens should match the CPU's run
         * under the same policy (tiny float differences could in principle flip a pruning decision; reported).
         */
        private void lethe(Model model, GpuModel gpu, int bos) {
            PolicySpec spec = PolicySpec.of("lethe", "delta", "32", "sparse-ratio", "50");
            int steps = Math.min(400, model.config().contextLength() - 1);
            Greedy cpu = cpuGreedy(model, spec, bos, steps);
            OffHeapKvCache cache = KvCaches.create(model.kvLayout(), spec);
            cache.declarePromptLength(1);
            try (GpuSequence s = GpuSequence.mirroring(gpu, cache)) {
                Greedy g = greedy(s, bos, steps);
                long rounds = cache.stats().totalRounds();
                checks.add(ids("lethe greedy ids gpu vs cpu, " + steps + " steps", g.ids, cpu.ids));
                checks.add(new Check("lethe pruning rounds ran on gpu", rounds > 0 ? 0 : 1, rounds > 0 ? 0 : 1, 0,
                        String.format(Locale.ROOT, "%d rounds, mean retained %.3f, device KV %d bytes = host %d",
                                rounds, cache.stats().meanRetainedFraction(), s.deviceKvBytes(), cache.bytesHeld())));
                double maxAbs = 0;
                for (int l = 0; l < model.config().layers(); l++) {
                    int length = cache.length(l), kvDim = model.kvLayout().kvDim();
                    float[] keys = s.downloadKv(l, 0), values = s.downloadKv(l, 1);
                    for (int i = 0; i < length * kvDim; i++) {
                        maxAbs = Math.max(maxAbs, Math.abs(keys[i] - cache.keys(l).getAtIndex(ValueLayout.JAVA_FLOAT, i)));
                        maxAbs = Math.max(maxAbs, Math.abs(values[i] - cache.values(l).getAtIndex(ValueLayout.JAVA_FLOAT, i)));
                    }
                    if (keys.length != length * kvDim) maxAbs = Double.NaN;
                }
                checks.add(new Check("lethe: device KV == host KV after rounds", maxAbs, maxAbs, 0, "exact copy expected"));
            }
        }

        record Greedy(int[] ids, float[] logits) {}

        private static Greedy cpuGreedy(Model model, PolicySpec spec, int bos, int steps) {
            OffHeapKvCache cache = KvCaches.create(model.kvLayout(), spec);
            cache.declarePromptLength(1);
            try (Sequence s = model.newSequence(cache)) {
                return greedy(s, bos, steps);
            }
        }

        private static Greedy greedy(dev.lethe.engine.model.Decoder s, int bos, int steps) {
            int[] ids = new int[steps];
            float[] logits = null;
            int token = bos;
            for (int i = 0; i < steps; i++) {
                float[] l = s.forward(token);
                if (logits == null) logits = new float[steps * l.length];
                System.arraycopy(l, 0, logits, i * l.length, l.length);
                ids[i] = token = Sampler.argmax(l);
            }
            return new Greedy(ids, logits);
        }

        private static Check ids(String name, int[] gpu, int[] cpu) {
            int first = -1;
            for (int i = 0; i < Math.min(gpu.length, cpu.length); i++) {
                if (gpu[i] != cpu[i]) {
                    first = i;
                    break;
                }
            }
            boolean equal = first < 0 && gpu.length == cpu.length;
            return new Check(name, equal ? 0 : 1, equal ? 0 : 1, 0, equal ? "all equal" : "first difference at step " + first);
        }

        private static double maxAbs(float[] a, float[] b) {
            double m = 0;
            for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
            return m;
        }

        private static Check compare(String name, float[] gpu, float[] cpu, double tolerance, String note) {
            return GpuSelfTest.compare(name, gpu, toDouble(cpu), tolerance, note);
        }

        private static int[] goldenIds(Path golden) throws Exception {
            Matcher m = Pattern.compile("\"ids\"\\s*:\\s*\\[([^\\]]*)]").matcher(Files.readString(golden));
            if (!m.find()) throw new IllegalArgumentException(golden + " has no \"ids\" array");
            return Arrays.stream(m.group(1).split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
        }
    }
}
