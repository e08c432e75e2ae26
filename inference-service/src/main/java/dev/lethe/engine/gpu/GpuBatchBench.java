package dev.lethe.engine.gpu;


import dev.lethe.cache.KvLayout;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.model.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

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
 * [--policies full,ratio,lethe,lethe-reserving] [--lethe sparse-ratio=1.2,recent-ratio=0.5] [--lethe-requests N]
 * [--run-limit-s S] [--skip-products]}
 * ({@code --deadline-s}: no budget run starts once the benchmark has run this long, to fit a time-limited machine;
 * {@code --run-limit-s}: a budget run stops after the step that passes this many seconds, counting what it generated;
 * {@code --lethe}: lethe-cache parameters of the Lethe runs, default the paper's; {@code --lethe-requests}: requests
 * the Lethe run (its own admission) is given, default 4x what the full cache admits.)
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
        PolicySpec lethe = PolicySpec.of("lethe");
        int letheRequests = 0;
        double runLimit = Double.MAX_VALUE;
        boolean productsAlone = true;
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
                case "--lethe" -> lethe = letheSpec(args[++i]);
                case "--lethe-requests" -> letheRequests = Integer.parseInt(args[++i]);
                case "--run-limit-s" -> runLimit = Double.parseDouble(args[++i]);
                case "--skip-products" -> productsAlone = false;
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
                if (productsAlone) {
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
                }
                secondKernelAgrees(device, model);
                System.out.printf(Locale.ROOT, "   decode steps use v1 below %d rows, %s from %d rows (-Dlethe.gpu.gemm=v1|tall|grid)%n",
                        BatchKernels.SECOND_KERNEL_FROM, k.configured().name().toLowerCase(Locale.ROOT), BatchKernels.SECOND_KERNEL_FROM);
                if (peerShapes) peerShapes(device, model, peerBatches, prompt, peerTokens, copy);
                if (budget) {
                    budgetRuns(device, model, new Budget(prompt, tokens, poolGb, maxBatch, ratios, only, lethe, letheRequests, deadline, runLimit),
                            benchStart);
                }
            }
        }
    }

    /** Median time of one pass of every batched product of a step at batch n (random activations) with the given kernel. */
    static double products(GpuDevice device, BatchModel model, int n, BatchKernels.Gemm g) {
        ModelConfig c = model.config();
        BatchKernels k = device.kernels().batch();
        int pad = BatchKernels.padded(n);
        int width = Math.max(c.ffnDim(), c.qDim());
        try (DeviceBuffer x = DeviceBuffer.allocate((long) pad * width * 4); DeviceBuffer x16 = DeviceBuffer.allocate((long) pad * width * 4);
             DeviceBuffer partial = DeviceBuffer.allocate(model.partialFloats(pad) * 4)) {
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

    /** What the fixed-budget runs are told: see the class comment's options. */
    record Budget(int prompt, int tokens, double poolGb, int maxBatch, double[] ratios, List<String> only, PolicySpec lethe,
                  int letheRequests, double deadline, double runLimit) {}

    /**
     * A lethe-cache spec from {@code --lethe}: comma-separated key=value pairs ({@code sparse-ratio=1.2,recent-ratio=0.5}),
     * or "default" / empty for the paper's defaults. The parameters themselves are checked when the policy is built.
     */
    static PolicySpec letheSpec(String text) {
        Map<String, String> parameters = new TreeMap<>();
        String t = text.strip();
        if (!t.isEmpty() && !t.equals("default")) {
            for (String pair : t.split(",")) {
                int eq = pair.indexOf('=');
                if (eq <= 0 || eq == pair.length() - 1) {
                    throw new IllegalArgumentException("--lethe: expected key=value pairs separated by commas (e.g. sparse-ratio=1.2,recent-ratio=0.5), got '"
                            + pair + "' in '" + text + "'");
                }
                if (parameters.put(pair.substring(0, eq).strip(), pair.substring(eq + 1).strip()) != null) {
                    throw new IllegalArgumentException("--lethe: " + pair.substring(0, eq).strip() + " given twice in '" + text + "'");
                }
            }
        }
        return PolicySpec.of("lethe", parameters);
    }

    /** One budget run: its policy, the option name that selects it, and whether it reserves peaks (requests = what fits). */
    private record Entry(String option, BatchPolicy policy) {}

    private static void budgetRuns(GpuDevice device, BatchModel model, Budget o, long benchStart) {
        ModelConfig c = model.config();
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim());
        int prompt = o.prompt(), tokens = o.tokens();
        try (PagedKvPool pool = PagedKvPool.ofBytes(layout, GgmlType.BF16, BLOCK, (long) (o.poolGb() * 1e9), true);
             BatchDecoder decoder = new BatchDecoder(model, pool, o.maxBatch(), prompt + tokens)) {
            System.out.printf(Locale.ROOT, "%n== fixed KV budget: pool %.1f GB (%d blocks of %d slots, bf16 K/V + f32 score), prompt %d, %d generated each%n",
                    pool.bytes() / 1e9, pool.blocks(), BLOCK, prompt, tokens);
            System.out.println("   full and ratio r: as many requests as the pool holds at their peak footprint (reserved at admission: no preemption);");
            System.out.println("   lethe: its own admission (prompt + a block per layer per running sequence free; the youngest preempted and");
            System.out.println("   recomputed if the pool runs dry) over --lethe-requests requests; lethe-reserving: admitted at the full cache's peak");
            BatchPolicy full = BatchPolicy.full();
            List<Entry> entries = new ArrayList<>();
            entries.add(new Entry("full", full));
            entries.add(new Entry("ratio", BatchPolicy.ratio(o.ratios()[0], 256, c.layers(), 0.95f)));
            entries.add(new Entry("lethe", BatchPolicy.lethe(o.lethe(), layout)));
            entries.add(new Entry("lethe-reserving", BatchPolicy.lethe(o.lethe(), layout).reserving(full.peakLength())));
            for (int i = 1; i < o.ratios().length; i++) entries.add(new Entry("ratio", BatchPolicy.ratio(o.ratios()[i], 256, c.layers(), 0.95f)));
            entries.removeIf(e -> !o.only().contains(e.option()));
            int fullCount = Math.min(o.maxBatch(), pool.blocks() / peakBlocks(full, c, prompt, tokens));
            decoder.run(requests(2, 8, 4, c.vocabularySize(), 3), full, null); // warm-up
            System.out.printf(Locale.ROOT, "%-34s %5s %5s %6s %9s %7s %7s %6s %7s %11s %7s %8s %7s %6s %6s%n", "policy", "reqs", "peak", "steps", "generated",
                    "seconds", "tok/s", "x full", "x same", "peak blocks", "preempt", "wasted", "rounds", "kept", "unfin");
            double fullRate = 0;
            List<double[]> fullTimeline = null; // (seconds, tokens generated so far) of the full-cache run
            for (Entry e : entries) {
                BatchPolicy policy = e.policy();
                double elapsed = (System.nanoTime() - benchStart) / 1e9;
                if (elapsed > o.deadline()) {
                    System.out.printf(Locale.ROOT, "%-34s not run: %.0f s into the benchmark, past --deadline-s%n", abbreviate(policy.name()), elapsed);
                    continue;
                }
                int count;
                if (policy.peakLength() != null) {
                    count = Math.min(o.maxBatch(), pool.blocks() / peakBlocks(policy, c, prompt, tokens));
                } else {
                    count = o.letheRequests() > 0 ? o.letheRequests() : 4 * Math.max(1, fullCount);
                }
                if (count < 1) {
                    System.out.println(policy.name() + ": the pool cannot hold one sequence");
                    continue;
                }
                List<BatchSequence> requests = requests(count, prompt, tokens, c.vocabularySize(), 4);
                List<double[]> timeline = new ArrayList<>();
                long start = System.nanoTime();
                BatchDecoder.RunStats s = decoder.run(requests, policy, (step, running, waiting, before, after, admitted) -> {
                    if (step % 100 == 0) timeline.add(new double[] {(System.nanoTime() - start) / 1e9, generatedSoFar(requests)});
                    if (step % 2000 == 0) {
                        System.out.printf(Locale.ROOT, "   ... %s step %d, %.0f s: %d running, %d waiting, %d generated, %d free blocks%n",
                                abbreviate(policy.name()), step, (System.nanoTime() - start) / 1e9, running, waiting, generatedSoFar(requests), after);
                    }
                }, () -> (System.nanoTime() - start) / 1e9 > o.runLimit());
                if (policy == full) {
                    fullRate = s.tokensPerSecond();
                    fullTimeline = timeline;
                }
                // against the full cache over the same wall-clock window from the start (what a run cut by --run-limit-s compares to)
                double sameWindow = policy == full || fullTimeline == null ? 0 : s.generated() / tokensAt(fullTimeline, s.seconds(), fullRate);
                System.out.printf(Locale.ROOT, "%-34s %5d %5d %6d %9d %7.1f %7.0f %6.2f %7.2f %5d/%-5d %7d %8d %7d %6.3f %6d%n", abbreviate(policy.name()), count,
                        s.peakBatch(), s.steps(), s.generated(), s.seconds(), s.tokensPerSecond(), fullRate > 0 ? s.tokensPerSecond() / fullRate : 0,
                        sameWindow, s.peakBlocksUsed() / 1000, pool.blocks() / 1000, s.preemptions(), s.wastedTokens(), s.rounds(),
                        s.meanKeptFraction(), s.unfinished());
            }
            System.out.println("   (reqs: requests submitted; peak: most sequences running at once; x same: tokens generated against the full cache's");
            System.out.println("   in the same time from the start; peak blocks in thousands; wasted: tokens generated and then discarded by preemption;");
            System.out.println("   kept = slots kept / slots held over the rounds that ran; unfin: sequences still unfinished when --run-limit-s stopped the run)");
        }
    }

    private static int peakBlocks(BatchPolicy policy, ModelConfig c, int prompt, int tokens) {
        int peak = policy.peakLength().of(prompt, tokens);
        return c.layers() * ((peak + BLOCK - 1) / BLOCK);
    }

    private static long generatedSoFar(List<BatchSequence> requests) {
        long g = 0;
        for (BatchSequence s : requests) g += s.generated();
        return g;
    }

    /** Tokens a run had generated after the given seconds, interpolated in its timeline (past its end: at its mean rate). */
    static double tokensAt(List<double[]> timeline, double seconds, double rate) {
        double[] before = {0, 0};
        for (double[] point : timeline) {
            if (point[0] >= seconds) {
                double f = point[0] == before[0] ? 1 : (seconds - before[0]) / (point[0] - before[0]);
                return before[1] + f * (point[1] - before[1]);
            }
            before = point;
        }
        return seconds * rate;
    }

    private static String abbreviate(String name) {
        return name.length() <= 34 ? name : name.substring(0, 31) + "...";
    }
}
