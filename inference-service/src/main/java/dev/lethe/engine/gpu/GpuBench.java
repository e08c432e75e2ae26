package dev.lethe.engine.gpu;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.model.Architecture;
import dev.lethe.engine.model.ModelConfig;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import jcuda.driver.CUevent;

/**
 * Batch-1 decode speed of a Llama-3-8B-shaped model with random BF16 weights made on the device, against
 * the device's copy bandwidth measured in the same run: tokens/s, bytes one step must read (weights plus
 * the KV cache), and the fraction of the copy bandwidth that makes.
 *
 * <p>Usage: {@code GpuBench [--prompt 512] [--tokens 256] [--layers 32]}
 */
public final class GpuBench {
    private GpuBench() {}

    /** Llama-3-8B: 32 layers, 4096 wide, 32 query heads over 8 KV heads of 128, FFN 14336, vocabulary 128256. */
    static ModelConfig llama3_8b(int layers, int context) {
        return new ModelConfig(Architecture.LLAMA, 4096, layers, 32, 8, 128, 14336, 128256, context, 1e-5f, 500_000f);
    }

    public static void main(String[] args) {
        int prompt = 512, tokens = 256, layers = 32;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--prompt" -> prompt = Integer.parseInt(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i] + "; usage: GpuBench [--prompt N] [--tokens N] [--layers N]");
            }
        }
        try (GpuDevice device = GpuDevice.open(0)) {
            System.out.printf(Locale.ROOT, "device: %s, %.1f GiB%n", device.name(), device.totalMemory() / (double) (1L << 30));
            double copyBandwidth = copyBandwidth(device, 2L << 30);
            System.out.printf(Locale.ROOT, "copy kernel, 2 GiB device to device: %.0f GB/s (bytes read + written, median of 10)%n", copyBandwidth / 1e9);

            ModelConfig config = llama3_8b(layers, prompt + tokens + 16);
            long t0 = System.nanoTime();
            try (GpuModel model = GpuModel.random(device, config, GgmlType.BF16, 1234)) {
                System.out.printf(Locale.ROOT, "random BF16 weights made on the device: %.2f GB in %.2f s%n",
                        model.weightBytesPerToken() / 1e9, (System.nanoTime() - t0) / 1e9);
                double matvecOnly = weightStreaming(device, model);
                System.out.printf(Locale.ROOT, "matrix-vector kernels alone over all weights: %.0f GB/s = %.1f%% of copy%n",
                        matvecOnly / 1e9, 100 * matvecOnly / copyBandwidth);
                decode(device, model, prompt, tokens, copyBandwidth);
                overheads(device, config, prompt + tokens / 2);
            }
        }
    }

    /** Median bandwidth (read + written bytes per second) of the copy kernel over a buffer of {@code bytes}. */
    static double copyBandwidth(GpuDevice device, long bytes) {
        try (DeviceBuffer src = DeviceBuffer.allocate(bytes); DeviceBuffer dst = DeviceBuffer.allocate(bytes)) {
            device.kernels().fillRandom(src, GgmlType.F32, 7, 1f);
            double[] ms = time(device, 10, () -> device.kernels().copy(src.pointer(), dst.pointer(), bytes));
            return 2.0 * bytes / (median(ms) / 1e3);
        }
    }

    /** Bandwidth of the matrix-vector kernels alone, one pass over every matrix of the model (median of 5). */
    static double weightStreaming(GpuDevice device, GpuModel model) {
        ModelConfig c = model.config();
        int width = Math.max(c.ffnDim(), c.vocabularySize());
        try (DeviceBuffer x = DeviceBuffer.allocate((long) width * Float.BYTES); DeviceBuffer y = DeviceBuffer.allocate((long) width * Float.BYTES)) {
            device.kernels().fillRandom(x, GgmlType.F32, 9, 1f);
            Kernels k = device.kernels();
            double[] ms = time(device, 5, () -> {
                for (GpuLayer l : model.layers()) {
                    for (DeviceMatrix m : new DeviceMatrix[] {l.wq(), l.wk(), l.wv(), l.wo(), l.wGate(), l.wUp(), l.wDown()}) {
                        k.matVec(m, x.pointer(), y.pointer(), 1);
                    }
                }
                k.matVec(model.output(), x.pointer(), y.pointer(), 1);
            });
            return model.weightBytesPerToken() / (median(ms) / 1e3);
        }
    }

    private static void decode(GpuDevice device, GpuModel model, int prompt, int tokens, double copyBandwidth) {
        ModelConfig c = model.config();
        Random random = new Random(99);
        int[] promptIds = random.ints(prompt, 0, c.vocabularySize()).toArray();
        try (GpuSequence s = GpuSequence.deviceOnly(model, prompt + tokens + 16)) {
            long t0 = System.nanoTime();
            float[] logits = s.prefill(promptIds);
            double prefillSeconds = (System.nanoTime() - t0) / 1e9;
            int token = dev.lethe.engine.sampler.Sampler.argmax(logits);
            int warmup = Math.min(8, tokens / 4);
            for (int i = 0; i < warmup; i++) token = s.forwardGreedy(token);
            int startLength = s.position();
            long launchesBefore = device.kernels().launches();
            long t1 = System.nanoTime();
            int timed = tokens - warmup;
            for (int i = 0; i < timed; i++) token = s.forwardGreedy(token);
            double seconds = (System.nanoTime() - t1) / 1e9;
            long launchesPerStep = (device.kernels().launches() - launchesBefore) / timed;
            double tokensPerSecond = timed / seconds;
            double meanLength = startLength + timed / 2.0;
            long kvBytes = (long) (meanLength * c.layers() * 2L * c.kvDim() * Float.BYTES);
            long bytesPerStep = model.weightBytesPerToken() + kvBytes;
            double achieved = bytesPerStep * tokensPerSecond;
            System.out.printf(Locale.ROOT, "prefill %d tokens: %.2f s (%.0f tok/s, matrix-vector in chunks of %d, no GEMM yet)%n",
                    prompt, prefillSeconds, prompt / prefillSeconds, GpuSequence.PREFILL_CHUNK);
            System.out.printf(Locale.ROOT, "decode batch 1: %d tokens at %.1f tok/s (%.2f ms/token, %d kernel launches per token)%n",
                    timed, tokensPerSecond, 1e3 / tokensPerSecond, launchesPerStep);
            System.out.printf(Locale.ROOT, "bytes per step: %.2f GB weights + %.3f GB KV (f32, mean length %.0f) = %.2f GB%n",
                    model.weightBytesPerToken() / 1e9, kvBytes / 1e9, meanLength, bytesPerStep / 1e9);
            System.out.printf(Locale.ROOT, "achieved %.0f GB/s = %.1f%% of the copy bandwidth (ceiling %.0f tok/s)%n",
                    achieved / 1e9, 100 * achieved / copyBandwidth, copyBandwidth / bytesPerStep);
        }
    }

    /** Where the rest of a step goes: the host's cost per launch, and attention alone at the mean length. */
    private static void overheads(GpuDevice device, ModelConfig c, int length) {
        Kernels k = device.kernels();
        try (DeviceBuffer one = DeviceBuffer.allocate(16)) {
            int launches = 5000;
            for (int i = 0; i < 100; i++) k.add(one.pointer(), one.pointer(), 1);
            device.synchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < launches; i++) k.add(one.pointer(), one.pointer(), 1);
            double queued = (System.nanoTime() - t0) / 1e3 / launches;
            device.synchronize();
            double total = (System.nanoTime() - t0) / 1e3 / launches;
            System.out.printf(Locale.ROOT, "launch cost of a tiny kernel through JCuda: %.1f us to queue, %.1f us each until done%n", queued, total);
        }
        long kvBytes = (long) length * c.kvDim() * Float.BYTES;
        try (DeviceBuffer q = DeviceBuffer.allocate((long) c.qDim() * Float.BYTES);
             DeviceBuffer keys = DeviceBuffer.allocate(kvBytes); DeviceBuffer values = DeviceBuffer.allocate(kvBytes);
             DeviceBuffer probs = DeviceBuffer.allocate((long) c.heads() * length * Float.BYTES);
             DeviceBuffer out = DeviceBuffer.allocate((long) c.qDim() * Float.BYTES);
             DeviceBuffer workspace = DeviceBuffer.allocate(Kernels.attentionWorkspaceBytes(1, c.heads(), c.headDim()))) {
            k.fillRandom(q, GgmlType.F32, 1, 1f);
            k.fillRandom(keys, GgmlType.F32, 2, 1f);
            k.fillRandom(values, GgmlType.F32, 3, 1f);
            double[] ms = time(device, 5, () -> {
                for (int l = 0; l < c.layers(); l++) {
                    k.attention(q.pointer(), keys.pointer(), values.pointer(), probs.pointer(), out.pointer(), workspace,
                            1, c.heads(), c.kvHeads(), c.headDim(), length, (float) (1 / Math.sqrt(c.headDim())));
                }
            });
            System.out.printf(Locale.ROOT, "attention alone, %d layers at length %d: %.3f ms per step%n", c.layers(), length, median(ms));
        }
    }

    /** Milliseconds of {@code work} on the device, timed with CUDA events, {@code repeats} times after a warm-up run. */
    static double[] time(GpuDevice device, int repeats, Runnable work) {
        CUevent start = new CUevent(), end = new CUevent();
        cuEventCreate(start, 0);
        cuEventCreate(end, 0);
        try {
            work.run(); // warm-up
            double[] ms = new double[repeats];
            float[] elapsed = new float[1];
            for (int i = 0; i < repeats; i++) {
                cuEventRecord(start, device.stream());
                work.run();
                cuEventRecord(end, device.stream());
                cuEventSynchronize(end);
                cuEventElapsedTime(elapsed, start, end);
                ms[i] = elapsed[0];
            }
            return ms;
        } finally {
            cuEventDestroy(start);
            cuEventDestroy(end);
            device.synchronize();
        }
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
