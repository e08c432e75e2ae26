package dev.lethe.engine.gpu;


import dev.lethe.cache.KvLayout;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.model.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Batched decoding of a Llama-3-8B-shaped model with random BF16 weights made on the device:
 * <ol>
 * <li>the batched products alone (weights streamed once per step for the whole batch) against the copy bandwidth;
 * <li>full-cache decode throughput at the batch sizes the PyTorch peer runs (prompt fed, then decode timed), with
 *     the step's launches queued one by one and replayed as CUDA graphs, side by side; where one step's time goes
 *     (device time per kernel class, host enqueue time, wall time) at context ~640;
 * <li>throughput under a fixed KV memory budget with long generations: as many sequences as the pool admits,
 *     for the full cache, Lethe, and fixed retention ratios.
 * </ol>
 * Usage: {@code GpuBatchBench [--prompt 512] [--tokens 8192] [--pool-gb 24] [--max-batch 128] [--layers 32]
 * [--ratios 0.25,0.5] [--peer-batches 16,64] [--peer-tokens 256] [--skip-budget] [--skip-peer-shapes] [--deadline-s S]
 * [--policies full,ratio,lethe]}
 * ({@code --deadline-s}: no budget run starts once the benchmark has run this long, to fit a time-limited machine.)
 */
public final class GpuBatchBench {
    private GpuBatchBench() {}

    private static final int BLOCK = 16;

    public static void main(String[] args) {
        int prompt = 512, tokens = 8192, maxBatch = 128, layers = 32, peerTokens = 256;
        double poolGb = 24;
        double[] ratios = {0.25, 0.5};
        double deadline = Double.MAX_VALUE;
        List<String> only = List.of("full", "ratio", "lethe");
        int[] peerBatches = {1, 16, 64};
        boolean budget = true, peerShapes = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--prompt" -> prompt = Integer.parseInt(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--pool-gb" -> poolGb = Double.parseDouble(args[++i]);
                case "--max-batch" -> maxBatch = Integer.parseInt(args[++i]);
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--ratios" -> ratios = Arrays.stream(args[++i].split(",")).mapToDouble(Double::parseDouble).toArray();
                case "--peer-batches" -> peerBatches = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--peer-tokens" -> peerTokens = Integer.parseInt(args[++i]);
                case "--skip-budget" -> budget = false;
                case "--skip-peer-shapes" -> peerShapes = false;
                case "--deadline-s" -> deadline = Double.parseDouble(args[++i]);
                case "--policies" -> only = List.of(args[++i].split(","));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        long benchStart = System.nanoTime();
        try (GpuDevice device = GpuDevice.open(0)) {
            System.out.printf(Locale.ROOT, "device: %s, %.1f GiB%n", device.name(), device.totalMemory() / (double) (1L << 30));
            double copy = GpuBench.copyBandwidth(device, 2L << 30);
            System.out.printf(Locale.ROOT, "copy kernel, 2 GiB device to device: %.0f GB/s (read + written, median of 10)%n", copy / 1e9);
            int context = prompt + Math.max(tokens, peerTokens);
            ModelConfig config = GpuBench.llama3_8b(layers, context + 16);
            long t0 = System.nanoTime();
            try (BatchModel model = BatchModel.random(device, config, 1234)) {
                System.out.printf(Locale.ROOT, "random BF16 weights made on the device: %.2f GB in %.2f s%n",
                        model.weightBytesPerStep(0) / 1e9, (System.nanoTime() - t0) / 1e9);
                BatchKernels k = device.kernels().batch();
                System.out.println("\n== batched products alone (q|k|v, o, gate|up, down per layer + output), tensor cores, per kernel");
                System.out.println("   v1: 8 warps of 16 weight rows, each loading every activation fragment; tall: 256 weight rows a block,");
                System.out.println("   2 weight fragments a warp; grid: 2 x 4 warps of 2 weight fragments each (ms/step, % of the copy bandwidth)");
                StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "%6s", "batch"));
                for (BatchKernels.Gemm g : BatchKernels.Gemm.values()) header.append(String.format(Locale.ROOT, " | %6s ms %7s", g.name().toLowerCase(Locale.ROOT), "% copy"));
                System.out.println(header);
                for (int n : new int[] {1, 16, 64, 128}) {
                    if (n > maxBatch) continue;
                    StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%6d", n));
                    for (BatchKernels.Gemm g : BatchKernels.Gemm.values()) {
                        double ms = products(device, model, n, g);
                        double gbs = model.weightBytesPerStep(0) / (ms / 1e3) / 1e9;
                        line.append(String.format(Locale.ROOT, " | %9.3f %6.1f%%", ms, 100 * gbs * 1e9 / copy));
                    }
                    System.out.println(line);
                }
                secondKernelAgrees(device, model);
                System.out.printf(Locale.ROOT, "   decode steps use v1 below %d rows, %s from %d rows (-Dlethe.gpu.gemm=v1|tall|grid)%n",
                        BatchKernels.SECOND_KERNEL_FROM, k.configured().name().toLowerCase(Locale.ROOT), BatchKernels.SECOND_KERNEL_FROM);
                if (peerShapes) peerShapes(device, model, peerBatches, prompt, peerTokens, copy);
                if (budget) budgetRuns(device, model, prompt, tokens, poolGb, maxBatch, ratios, benchStart, deadline, only);
            }
        }
    }

    /** Median time of one pass of every batched product of a step at batch n (random activations) with the given kernel. */
    static double products(GpuDevice device, BatchModel model, int n, BatchKernels.Gemm g) {
        ModelConfig c = model.config();
        BatchKernels k = device.kernels().batch();
        int pad = BatchKernels.padded(n);
        int width = Math.max(c.ffnDim(), c.qDim());
        long partialFloats = (long) pad * c.vocabularySize();
        for (BatchModel.Layer l : model.layers()) {
            for (DeviceMatrix m : new DeviceMatrix[] {l.wqkv(), l.wo(), l.wGateUp(), l.wDown()}) {
                partialFloats = Math.max(partialFloats, (long) BatchKernels.maxSplits(m) * pad * m.rows());
            }
        }
        try (DeviceBuffer x = DeviceBuffer.allocate((long) pad * width * 4); DeviceBuffer x16 = DeviceBuffer.allocate((long) pad * width * 4);
             DeviceBuffer partial = DeviceBuffer.allocate(partialFloats * 4)) {
            device.kernels().fillRandom(x, GgmlType.F32, 5, 1f);
            device.kernels().fillRandom(x16, GgmlType.BF16, 6, 1f);
            double[] ms = GpuBench.time(device, 5, () -> {
                for (BatchModel.Layer l : model.layers()) {
                    for (DeviceMatrix m : new DeviceMatrix[] {l.wqkv(), l.wo(), l.wGateUp(), l.wDown()}) {
                        k.gemm(m, x.pointer(), x16.pointer(), partial.pointer(), n, g);
                    }
                }
                k.gemm(model.output(), x.pointer(), x16.pointer(), partial.pointer(), n, g);
            });
            return GpuBench.median(ms);
        }
    }

    /**
     * Guards the run against a wrong second kernel (the self-test is where it fails visibly): the configured kernel
     * and v1 on the model's q|k|v and gate|up weights at batches 64 and 128, split sums compared on the host. If they
     * differ by more than f32 rounding, every later product runs on v1.
     */
    private static void secondKernelAgrees(GpuDevice device, BatchModel model) {
        BatchKernels k = device.kernels().batch();
        if (k.configured() == BatchKernels.Gemm.V1) return;
        BatchModel.Layer layer = model.layers()[0];
        double worst = 0;
        for (DeviceMatrix w : new DeviceMatrix[] {layer.wqkv(), layer.wGateUp()}) {
            for (int n : new int[] {64, 128}) {
                int pad = BatchKernels.padded(n);
                long floats = (long) BatchKernels.maxSplits(w) * pad * w.rows();
                try (DeviceBuffer x16 = DeviceBuffer.allocate((long) pad * w.cols() * 2); DeviceBuffer partial = DeviceBuffer.allocate(floats * 4)) {
                    device.kernels().fillRandom(x16, GgmlType.BF16, 7 + n, 1f);
                    double[] first = reduced(k, w, x16, partial, n, BatchKernels.Gemm.V1);
                    double[] second = reduced(k, w, x16, partial, n, k.configured());
                    double diff = 0, norm = 0;
                    for (int i = 0; i < first.length; i++) {
                        diff += (first[i] - second[i]) * (first[i] - second[i]);
                        norm += first[i] * first[i];
                    }
                    double rel = Math.sqrt(diff / norm);
                    worst = Double.isNaN(rel) ? Double.NaN : Math.max(worst, rel);
                    if (Double.isNaN(rel)) break;
                }
            }
        }
        boolean agrees = worst <= 1e-5; // false for NaN
        System.out.printf(Locale.ROOT, "   %s against v1 (q|k|v and gate|up, batches 64 and 128): relative difference %.2e, %s%n",
                k.configured().name().toLowerCase(Locale.ROOT), worst, agrees ? "agrees" : "DISAGREES: decode steps fall back to v1");
        if (!agrees) k.fallBackToV1();
    }

    /** The n x rows outputs of one product, split sums added. */
    private static double[] reduced(BatchKernels k, DeviceMatrix w, DeviceBuffer x16, DeviceBuffer partial, int n, BatchKernels.Gemm g) {
        int pad = BatchKernels.padded(n), rows = w.rows();
        int splits = k.gemm(w, x16.pointer(), x16.pointer(), partial.pointer(), n, g);
        float[] p = new float[splits * pad * rows];
        partial.download(p, 0, p.length, 0);
        double[] out = new double[n * rows];
        for (int s = 0; s < splits; s++) {
            for (int i = 0; i < n * rows; i++) out[i] += p[s * pad * rows + i];
        }
        return out;
    }

    private static List<BatchSequence> requests(int count, int prompt, int tokens, int vocabulary, long seed) {
        Random random = new Random(seed);
        List<BatchSequence> list = new ArrayList<>();
        for (int i = 0; i < count; i++) list.add(new BatchSequence(i, random.ints(prompt, 0, vocabulary).toArray(), tokens, false));
        return list;
    }

    /** Steps timed alone (host enqueue, wall) and then part by part with events, once the context reaches ~prompt + 128. */
    private static final int PROFILE_WALL_STEPS = 5, PROFILE_EVENT_STEPS = 3, PROFILE_AFTER = 128;

    /** One full-cache run at a peer's shape. */
    private record Shape(int batch, boolean graphs, double tokensPerSecond, double msPerStep, long decodeSteps, int profiledLength,
                         StepProfile profile, long captures, long replays) {}

    private static void peerShapes(GpuDevice device, BatchModel model, int[] batches, int prompt, int tokens, double copy) {
        System.out.printf(Locale.ROOT, "%n== full cache, decode throughput at the peer's shapes (prompt %d fed one token a step, then %d tokens; decode timed)%n",
                prompt, tokens);
        System.out.println("   graphs off: the step's ~10 launches per layer queued one by one; on: replayed as CUDA graphs");
        System.out.printf(Locale.ROOT, "%6s | %12s %9s | %12s %9s | %7s %7s %10s%n", "batch", "off tok/s", "ms/step", "on tok/s", "ms/step", "on/off",
                "steps", "graphs");
        List<Shape[]> shapes = new ArrayList<>();
        for (int b : batches) {
            Shape off = peerShape(device, model, b, prompt, tokens, false), on = peerShape(device, model, b, prompt, tokens, true);
            shapes.add(new Shape[] {off, on});
            System.out.printf(Locale.ROOT, "%6d | %12.1f %9.3f | %12.1f %9.3f | %6.2fx %7d %4d/%-5d%n", b, off.tokensPerSecond(), off.msPerStep(),
                    on.tokensPerSecond(), on.msPerStep(), on.tokensPerSecond() / off.tokensPerSecond(), off.decodeSteps(), on.captures(), on.replays());
            if (b == 1) {
                ModelConfig c = model.config();
                double meanLength = prompt + tokens / 2.0;
                long kvBytes = (long) (meanLength * c.layers() * 2L * c.kvDim() * 2); // bf16 keys and values
                long bytesPerStep = model.weightBytesPerStep(1) + kvBytes;
                System.out.printf(Locale.ROOT, "       batch 1: %.2f GB per step (%.2f GB weights + %.3f GB bf16 KV at mean length %.0f): "
                                + "graphs off %.0f GB/s = %.1f%% of copy, on %.0f GB/s = %.1f%% of copy%n",
                        bytesPerStep / 1e9, model.weightBytesPerStep(1) / 1e9, kvBytes / 1e9, meanLength,
                        bytesPerStep * off.tokensPerSecond() / 1e9, 100 * bytesPerStep * off.tokensPerSecond() / copy,
                        bytesPerStep * on.tokensPerSecond() / 1e9, 100 * bytesPerStep * on.tokensPerSecond() / copy);
            }
        }
        System.out.println("   (graphs: recorded / replayed in the timed run; the off and on runs include the steps the breakdown timed)");
        breakdown(shapes);
    }

    private static void breakdown(List<Shape[]> shapes) {
        List<Shape[]> profiled = shapes.stream().filter(p -> p[0].profile() != null).toList();
        if (profiled.isEmpty()) return;
        System.out.printf(Locale.ROOT, "%n== one full-cache step, part by part (ms; device time from CUDA events between launches, graphs off, %d steps each;%n",
                PROFILE_EVENT_STEPS);
        System.out.printf(Locale.ROOT, "   host enqueue and wall: %d steps each run alone, waited for)%n", PROFILE_WALL_STEPS);
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "%-34s", "batch (context)"));
        for (Shape[] p : profiled) header.append(String.format(Locale.ROOT, " %9s", p[0].batch() + " (" + p[0].profiledLength() + ")"));
        System.out.println(header);
        for (StepProfile.Part part : StepProfile.Part.values()) {
            row(part.label, profiled, p -> p[0].profile().partMs(part));
        }
        row("device time of the step", profiled, p -> p[0].profile().gpuMs());
        row("graphs off: host enqueue", profiled, p -> p[0].profile().hostMs());
        row("graphs off: wall", profiled, p -> p[0].profile().wallMs());
        row("graphs on: host enqueue", profiled, p -> p[1].profile().hostMs());
        row("graphs on: wall", profiled, p -> p[1].profile().wallMs());
    }

    private static void row(String label, List<Shape[]> shapes, java.util.function.ToDoubleFunction<Shape[]> value) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-34s", label));
        for (Shape[] p : shapes) line.append(String.format(Locale.ROOT, " %9.3f", value.applyAsDouble(p)));
        System.out.println(line);
    }

    private static Shape peerShape(GpuDevice device, BatchModel model, int batch, int prompt, int tokens, boolean graphs) {
        ModelConfig c = model.config();
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim());
        int blocksPerSeq = c.layers() * ((prompt + tokens + BLOCK - 1) / BLOCK);
        int profiledSteps = PROFILE_WALL_STEPS + (graphs ? 0 : PROFILE_EVENT_STEPS);
        int profileAfter = Math.min(PROFILE_AFTER, tokens / 2);
        boolean profiling = profileAfter + profiledSteps < tokens;
        try (PagedKvPool pool = new PagedKvPool(layout, GgmlType.BF16, BLOCK, batch * blocksPerSeq, false);
             BatchDecoder decoder = new BatchDecoder(model, pool, batch, prompt + tokens, graphs);
             StepProfile profile = new StepProfile(device, PROFILE_WALL_STEPS, graphs ? 0 : PROFILE_EVENT_STEPS)) {
            decoder.run(requests(batch, 8, 4, c.vocabularySize(), 1), BatchPolicy.full(), null); // warm-up
            long captures0 = decoder.graphCaptures(), replays0 = decoder.graphReplays();
            // nanoTime at: decode start, profiled steps' start and end (excluded from the decode time)
            long[] at = {0, 0, 0};
            BatchDecoder.RunStats stats = decoder.run(requests(batch, prompt, tokens, c.vocabularySize(), 2), BatchPolicy.full(),
                    (step, running, waiting, before, after, admitted) -> {
                        if (step == prompt) {
                            device.synchronize();
                            at[0] = System.nanoTime();
                        }
                        if (profiling && step == prompt + profileAfter) {
                            device.synchronize();
                            at[1] = System.nanoTime();
                            decoder.profile(profile);
                        }
                        if (profiling && step == prompt + profileAfter + profiledSteps) at[2] = System.nanoTime(); // the profile waited
                    });
            long end = System.nanoTime(); // run() synchronised before returning
            double decodeSeconds = (end - at[0] - (at[2] - at[1])) / 1e9;
            long decodeSteps = stats.steps() - prompt - (profiling ? profiledSteps : 0);
            return new Shape(batch, graphs, (double) batch * decodeSteps / decodeSeconds, 1e3 * decodeSeconds / decodeSteps, decodeSteps,
                    prompt + profileAfter + 1, profiling ? profile : null, decoder.graphCaptures() - captures0, decoder.graphReplays() - replays0);
        }
    }

    private static void budgetRuns(GpuDevice device, BatchModel model, int prompt, int tokens, double poolGb, int maxBatch, double[] ratios,
                                   long benchStart, double deadline, List<String> only) {
        ModelConfig c = model.config();
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim());
        try (PagedKvPool pool = PagedKvPool.ofBytes(layout, GgmlType.BF16, BLOCK, (long) (poolGb * 1e9), true);
             BatchDecoder decoder = new BatchDecoder(model, pool, maxBatch, prompt + tokens)) {
            System.out.printf(Locale.ROOT, "%n== fixed KV budget: pool %.1f GB (%d blocks of %d slots, bf16 K/V + f32 score), prompt %d, %d generated each%n",
                    pool.bytes() / 1e9, pool.blocks(), BLOCK, prompt, tokens);
            System.out.println("   admission reserves each sequence's peak footprint (full: prompt + generated; ratio r: simulated;");
            System.out.println("   lethe: the full cache's, since its retention follows the attention); so no preemptions");
            List<BatchPolicy> policies = new ArrayList<>();
            BatchPolicy full = BatchPolicy.full();
            policies.add(full);
            policies.add(BatchPolicy.ratio(ratios[0], 256, c.layers(), 0.95f));
            policies.add(BatchPolicy.lethe(PolicySpec.of("lethe"), layout).reserving(full.peakLength()));
            for (int i = 1; i < ratios.length; i++) policies.add(BatchPolicy.ratio(ratios[i], 256, c.layers(), 0.95f));
            decoder.run(requests(2, 8, 4, c.vocabularySize(), 3), full, null); // warm-up
            System.out.printf(Locale.ROOT, "%-34s %6s %7s %9s %8s %9s %7s %11s %8s %8s%n", "policy", "seqs", "steps", "generated", "seconds",
                    "tok/s", "x full", "peak blocks", "rounds", "kept");
            double fullRate = 0;
            policies.removeIf(p -> !only.contains(p.name().startsWith("lethe") ? "lethe" : p.name().split(" ")[0]));
            for (BatchPolicy policy : policies) {
                double elapsed = (System.nanoTime() - benchStart) / 1e9;
                if (elapsed > deadline) {
                    System.out.printf(Locale.ROOT, "%-34s not run: %.0f s into the benchmark, past --deadline-s%n", abbreviate(policy.name()), elapsed);
                    continue;
                }
                int peak = policy.peakLength().of(prompt, tokens);
                int peakBlocks = c.layers() * ((peak + BLOCK - 1) / BLOCK);
                int concurrent = Math.min(maxBatch, pool.blocks() / peakBlocks);
                if (concurrent < 1) {
                    System.out.println(policy.name() + ": the pool cannot hold one sequence");
                    continue;
                }
                long start = System.nanoTime();
                BatchDecoder.RunStats s = decoder.run(requests(concurrent, prompt, tokens, c.vocabularySize(), 4), policy,
                        (step, running, waiting, before, after, admitted) -> {
                            if (step % 2000 == 0) {
                                System.out.printf(Locale.ROOT, "   ... %s step %d, %.0f s%n", policy.name(), step, (System.nanoTime() - start) / 1e9);
                            }
                        });
                if (policy == full) fullRate = s.tokensPerSecond();
                System.out.printf(Locale.ROOT, "%-34s %6d %7d %9d %8.1f %9.0f %7.2f %5d/%-5d %8d %8.3f%n", abbreviate(policy.name()), concurrent, s.steps(),
                        s.generated(), s.seconds(), s.tokensPerSecond(), fullRate > 0 ? s.tokensPerSecond() / fullRate : 0,
                        s.peakBlocksUsed() / 1000, pool.blocks() / 1000, s.rounds(), s.meanKeptFraction());
            }
            System.out.println("   (peak blocks in thousands; kept = slots kept / slots held, over the rounds that ran)");
        }
    }

    private static String abbreviate(String name) {
        return name.length() <= 34 ? name : name.substring(0, 31) + "...";
    }
}
