package dev.lethe.engine.gpu;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;

import dev.lethe.engine.gguf.GgmlType;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * Typed launchers for the kernels in {@code src/main/cuda}: each method checks nothing the kernel cannot
 * tolerate silently and queues one or a few launches on the device's stream. Arguments are device addresses
 * ({@link DeviceBuffer#at}) so that callers can address rows inside larger buffers.
 */
final class Kernels {
    /** Input vectors one matrix-vector launch multiplies (MAX_BATCH in matvec.cu). */
    static final int MATVEC_MAX_BATCH = 8;
    private static final int MATVEC_THREADS = 256; // 8 warps, a row each
    private static final int GRID_STRIDE_BLOCKS = 132 * 8;

    private final CUstream stream;
    private final CUfunction embedding, rmsnorm, rope, swiglu, add, addBias, fillBf16, fillF32, copy16, spin;
    private final Map<GgmlType, CUfunction> matvec = new EnumMap<>(GgmlType.class), matvecSingle = new EnumMap<>(GgmlType.class);
    private final CUfunction attentionSplit, attentionCombine, gatherRows, argmax, softmax;
    private final BatchKernels batch;
    /** Attention splits the slots of each (query, head) pair into at most this many parts... */
    static final int ATTENTION_MAX_SPLITS = 64;
    /** ... of at least this many slots, aiming at a few blocks per multiprocessor. */
    private static final int ATTENTION_MIN_SPLIT = 32;
    private static final int ATTENTION_TARGET_BLOCKS = 4 * 132;

    Kernels(Map<String, CUmodule> modules, CUstream stream) {
        this.stream = stream;
        CUmodule e = modules.get("elementwise"), m = modules.get("matvec"), a = modules.get("attention"), s = modules.get("sampling");
        embedding = function(e, "embedding");
        rmsnorm = function(e, "rmsnorm");
        rope = function(e, "rope");
        swiglu = function(e, "swiglu");
        add = function(e, "add");
        addBias = function(e, "add_bias");
        fillBf16 = function(e, "fill_random_bf16");
        fillF32 = function(e, "fill_random_f32");
        copy16 = function(e, "copy16");
        spin = function(e, "spin");
        for (GgmlType type : List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0)) {
            String name = "matvec_" + type.name().toLowerCase(Locale.ROOT);
            matvec.put(type, function(m, name));
            matvecSingle.put(type, function(m, name + "_1"));
        }
        attentionSplit = function(a, "attention_split");
        attentionCombine = function(a, "attention_combine");
        gatherRows = function(a, "gather_rows");
        argmax = function(s, "argmax");
        softmax = function(s, "softmax");
        batch = new BatchKernels(this, modules.get("batch"));
    }

    /** The kernels of batched decoding over the paged KV pool. */
    BatchKernels batch() {
        return batch;
    }

    static CUfunction function(CUmodule module, String name) {
        CUfunction f = new CUfunction();
        cuModuleGetFunction(f, module, name);
        return f;
    }

    /** Kernel launches queued so far (for the benchmark's per-step count). */
    private long launches;

    long launches() {
        return launches;
    }

    /** Launches with kernel arguments boxed as CUdeviceptr, Integer, Long (long long), Float, Double or null (a null pointer). */
    void launch(CUfunction f, int gridX, int gridY, int threads, int sharedBytes, Object... args) {
        launch3d(f, gridX, gridY, 1, threads, sharedBytes, args);
    }

    void launch3d(CUfunction f, int gridX, int gridY, int gridZ, int threads, int sharedBytes, Object... args) {
        launches++;
        cuLaunchKernel(f, gridX, gridY, gridZ, threads, 1, 1, sharedBytes, stream, Pointer.to(params(args)), null);
    }

    private static final CUdeviceptr NULL = new CUdeviceptr();

    private static Pointer[] params(Object... args) {
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            params[i] = switch (args[i]) {
                case CUdeviceptr p -> Pointer.to(p);
                case Integer v -> Pointer.to(new int[] {v});
                case Long v -> Pointer.to(new long[] {v});
                case Float v -> Pointer.to(new float[] {v});
                case null -> Pointer.to(NULL);
                default -> throw new IllegalArgumentException("unsupported kernel argument " + args[i]);
            };
        }
        return params;
    }

    static int blocks(long count, int threads) {
        return (int) Math.min(GRID_STRIDE_BLOCKS, (count + threads - 1) / threads);
    }

    /** x[t] = row tokens[t] of the table, for n tokens. */
    void embedding(DeviceMatrix table, CUdeviceptr tokens, CUdeviceptr x, int n) {
        launch(embedding, n, 1, 256, 0, table.data().pointer(), table.type().id(), tokens, x, table.cols());
    }

    void rmsNorm(CUdeviceptr in, CUdeviceptr out, CUdeviceptr weight, int rows, int size, float eps) {
        launch(rmsnorm, rows, 1, Math.min(1024, Math.max(32, Integer.highestOneBit(size))), 0, in, out, weight, size, eps);
    }

    /** Rotates the {@code heads} heads of n tokens (rows {@code stride} floats apart) at positions start.. */
    void rope(CUdeviceptr x, int n, int heads, int stride, int headDim, int startPosition, CUdeviceptr inverseFrequency, boolean neox) {
        launch(rope, n, heads, Math.min(256, Math.max(32, headDim / 2)), 0, x, stride, headDim, startPosition, inverseFrequency, neox ? 1 : 0);
    }

    /**
     * out[b][r] = W[r] . x[b] for n input vectors, in launches of up to {@link #MATVEC_MAX_BATCH}; a single
     * vector goes to the kernel compiled for one (fewer registers).
     */
    void matVec(DeviceMatrix w, CUdeviceptr x, CUdeviceptr out, int n) {
        int rowsPerBlock = MATVEC_THREADS / 32;
        int grid = (w.rows() + rowsPerBlock - 1) / rowsPerBlock;
        for (int b = 0; b < n; b += MATVEC_MAX_BATCH) {
            int count = Math.min(MATVEC_MAX_BATCH, n - b);
            launch((count == 1 ? matvecSingle : matvec).get(w.type()), grid, 1, MATVEC_THREADS, 0, w.data().pointer(),
                    x.withByteOffset((long) b * w.cols() * Float.BYTES),
                    out.withByteOffset((long) b * w.rows() * Float.BYTES), w.rows(), w.cols(), count);
        }
    }

    /** Bytes of the workspace {@link #attention} needs for n queries. */
    static long attentionWorkspaceBytes(int n, int heads, int headDim) {
        return (long) n * heads * ATTENTION_MAX_SPLITS * (headDim + 2) * Float.BYTES;
    }

    /**
     * Attention of n queries over {@code length} cached slots (the last n are the queries' own), writing the
     * probabilities and the output; see attention.cu. Two launches: the splits, then their combination.
     */
    void attention(CUdeviceptr q, CUdeviceptr keys, CUdeviceptr values, CUdeviceptr probabilities, CUdeviceptr out,
                   DeviceBuffer workspace, int n, int heads, int kvHeads, int headDim, int length, float scale) {
        if (workspace.bytes() < attentionWorkspaceBytes(n, heads, headDim)) {
            throw new IllegalArgumentException("attention workspace of " + workspace.bytes() + " bytes is too small for " + n + " queries");
        }
        int pairs = n * heads;
        int wanted = (ATTENTION_TARGET_BLOCKS + pairs - 1) / pairs;
        int splits = Math.clamp(Math.min(wanted, (length + ATTENTION_MIN_SPLIT - 1) / ATTENTION_MIN_SPLIT), 1, ATTENTION_MAX_SPLITS);
        int slotsPerSplit = (length + splits - 1) / splits;
        splits = (length + slotsPerSplit - 1) / slotsPerSplit;
        long partials = (long) pairs * splits;
        CUdeviceptr partialOut = workspace.pointer();
        CUdeviceptr partialMax = workspace.at(partials * headDim * Float.BYTES);
        CUdeviceptr partialSum = workspace.at(partials * (headDim + 1) * Float.BYTES);
        int threads = Math.max(headDim, 256);
        Pointer[] args = params(q, keys, values, probabilities, partialOut, partialMax, partialSum, n, heads, kvHeads, headDim, length, scale, slotsPerSplit);
        launches++;
        cuLaunchKernel(attentionSplit, heads, n, splits, threads, 1, 1, (headDim + threads) * Float.BYTES, stream, Pointer.to(args), null);
        launch(attentionCombine, heads, n, 128, 0, probabilities, partialOut, partialMax, partialSum, out, n, heads, headDim, length, splits, slotsPerSplit);
    }

    void swiglu(CUdeviceptr gate, CUdeviceptr up, long count) {
        launch(swiglu, blocks(count, 256), 1, 256, 0, gate, up, count);
    }

    void add(CUdeviceptr x, CUdeviceptr y, long count) {
        launch(add, blocks(count, 256), 1, 256, 0, x, y, count);
    }

    void addBias(CUdeviceptr x, CUdeviceptr bias, int width, long count) {
        launch(addBias, blocks(count, 256), 1, 256, 0, x, bias, width, count);
    }

    void argmax(CUdeviceptr x, int n, CUdeviceptr out) {
        launch(argmax, 1, 1, 1024, 0, x, n, out);
    }

    void softmax(CUdeviceptr x, int rows, int n, float temperature) {
        launch(softmax, rows, 1, 1024, 0, x, n, temperature);
    }

    void gatherRows(CUdeviceptr src, CUdeviceptr dst, CUdeviceptr index, int count, int width) {
        launch(gatherRows, blocks((long) count * width, 256), 1, 256, 0, src, dst, index, count, width);
    }

    /** Uniform random values in [-scale, scale) for a BF16 or F32 buffer, made on the device. */
    void fillRandom(DeviceBuffer buffer, GgmlType type, long seed, float scale) {
        switch (type) {
            case BF16 -> launch(fillBf16, blocks(buffer.bytes() / 2, 256), 1, 256, 0, buffer.pointer(), buffer.bytes() / 2, seed, scale);
            case F32 -> launch(fillF32, blocks(buffer.bytes() / 4, 256), 1, 256, 0, buffer.pointer(), buffer.bytes() / 4, seed, scale);
            default -> throw new IllegalArgumentException("random fill supports BF16 and F32, not " + type);
        }
    }

    /**
     * Keeps the stream busy for about {@code nanos} ns (one thread): the benchmark queues it ahead of a step it
     * times with events, so the whole step is queued before the device starts it and no gap waits for the host.
     */
    void spin(long nanos) {
        launch(spin, 1, 1, 1, 0, nanos);
    }

    /** dst = src, {@code bytes} a multiple of 16. */
    void copy(CUdeviceptr src, CUdeviceptr dst, long bytes) {
        if (bytes % 16 != 0) throw new IllegalArgumentException("copy size must be a multiple of 16, got " + bytes);
        launch(copy16, blocks(bytes / 16, 256), 1, 256, 0, src, dst, bytes / 16);
    }
}
