package dev.lethe.engine.gpu;

import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;

import dev.lethe.engine.gguf.GgmlType;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;

/**
 * Launchers for {@code src/main/cuda/batch.cu}: the kernels of a batched decode step over the paged KV pool.
 * Products write split-K partial sums {@code [splits][nPad][rows]}; the kernel after each product reduces them.
 */
final class BatchKernels {
    /** Rows of X one tensor-core launch multiplies: 16 per fragment column, at most 8 of them. */
    static final int MAX_ROWS = 128;
    private static final int TC_M = 128, TC_K = 64, TC_LDS = 72, TC_STAGES = 3;
    /** Split-K aims at this many blocks (two resident per multiprocessor on 132 of them)... */
    private static final int TC_TARGET_BLOCKS = 2 * 132;
    /** ...with at least this many 64-column chunks per split. */
    private static final int TC_MIN_CHUNKS = 4;

    /** Multiprocessors of the H200 the split rules size grids for. */
    static final int MULTIPROCESSORS = 132;

    /**
     * The tensor-core product kernels. V1 ({@code gemm_bf16_tc_NT}): 8 warps of one weight fragment each, every
     * warp loading every activation fragment. TALL ({@code gemm_tall_NF}) and GRID ({@code gemm_grid_NF}): each warp
     * owns two weight fragments and its share of the activation fragments, so a fragment loaded from shared memory
     * feeds several products; TALL covers 256 weight rows a block (one block per multiprocessor), GRID 128 rows and
     * splits the activation rows over two warp columns (two blocks per multiprocessor).
     *
     * @param m              weight rows of a block tile
     * @param columnsPerUnit activation rows one kernel instance's NF (or NT) stands for: 16, or 32 for GRID
     * @param perProcessor   blocks resident on one multiprocessor (shared memory and registers, at the largest tile)
     */
    enum Gemm {
        V1("gemm_bf16_tc_", 128, 16, 2), TALL("gemm_tall_", 256, 16, 1), GRID("gemm_grid_", 128, 32, 2);

        final String prefix;
        final int m, columnsPerUnit, perProcessor;

        Gemm(String prefix, int m, int columnsPerUnit, int perProcessor) {
            this.prefix = prefix;
            this.m = m;
            this.columnsPerUnit = columnsPerUnit;
            this.perProcessor = perProcessor;
        }

        /** Kernel instances: NF (or NT) 1..units(). */
        int units() {
            return MAX_ROWS / columnsPerUnit;
        }

        /** The instance for n activation rows: its NF (or NT). */
        int unit(int n) {
            return (padded(n) + columnsPerUnit - 1) / columnsPerUnit;
        }

        /**
         * The kernel {@code -Dlethe.gpu.gemm} names: v1 (the first kernel at every batch size), tall or grid (the
         * second kernel from 49 rows up, where the first falls off); unset: tall.
         */
        static Gemm configured() {
            String name = System.getProperty("lethe.gpu.gemm", "tall").strip().toLowerCase(java.util.Locale.ROOT);
            return switch (name) {
                case "v1" -> V1;
                case "tall", "v2" -> TALL;
                case "grid" -> GRID;
                default -> throw new IllegalArgumentException("-Dlethe.gpu.gemm=" + name + ": expected v1, tall (= v2) or grid");
            };
        }
    }

    /** Rows of X from which the configured second kernel takes over from V1 (NT 4 and up). */
    static final int SECOND_KERNEL_FROM = 49;

    private final Kernels kernels;
    /** Not final: {@link #fallBackToV1} (a benchmark whose check of the second kernel failed). */
    private Gemm configured = Gemm.configured();
    private final java.util.Map<Gemm, CUfunction[]> gemm = new java.util.EnumMap<>(Gemm.class);
    /** The paged attention kernels by group: index log2 of the most query heads per KV head each takes (1, 2, 4, 8). */
    private final CUfunction[] attentionF32 = new CUfunction[4], attentionBf16 = new CUfunction[4];
    private final CUfunction residualNorm, swigluReduce, qkvF32, qkvBf16, attentionFinish, embedding, argmaxRows, moveRows,
            scatterInts;

    BatchKernels(Kernels kernels, CUmodule m) {
        this.kernels = kernels;
        for (Gemm g : Gemm.values()) {
            CUfunction[] fs = new CUfunction[g.units() + 1];
            for (int unit = 1; unit < fs.length; unit++) {
                fs[unit] = Kernels.function(m, g.prefix + unit);
                cuFuncSetAttribute(fs[unit], CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                        gemmSharedBytes(g, unit * g.columnsPerUnit));
            }
            gemm.put(g, fs);
        }
        residualNorm = Kernels.function(m, "residual_norm");
        swigluReduce = Kernels.function(m, "swiglu_reduce");
        qkvF32 = Kernels.function(m, "qkv_rope_append_f32");
        qkvBf16 = Kernels.function(m, "qkv_rope_append_bf16");
        for (int i = 0; i < attentionF32.length; i++) {
            attentionF32[i] = Kernels.function(m, "attention_paged_f32_g" + (1 << i));
            attentionBf16[i] = Kernels.function(m, "attention_paged_bf16_g" + (1 << i));
        }
        attentionFinish = Kernels.function(m, "attention_paged_finish");
        embedding = Kernels.function(m, "embedding_batch");
        argmaxRows = Kernels.function(m, "argmax_rows");
        moveRows = Kernels.function(m, "move_rows");
        scatterInts = Kernels.function(m, "scatter_ints");
    }

    /** Dynamic shared memory of a product whose stages hold {@code xRows} activation rows. */
    private static int gemmSharedBytes(Gemm g, int xRows) {
        return TC_STAGES * (g.m + xRows) * TC_LDS * 2;
    }

    /** Whether {@link #gemm} runs this matrix on the tensor cores (else on the matrix-vector kernels). */
    static boolean tensorCores(DeviceMatrix w) {
        return w.type() == GgmlType.BF16 && w.rows() % TC_M == 0 && w.cols() % TC_K == 0;
    }

    /** The kernel {@link #gemm} uses for n rows of X times w: the configured one from 49 rows up where w's rows fit its tile. */
    Gemm kernelFor(DeviceMatrix w, int n) {
        return n >= SECOND_KERNEL_FROM && w.rows() % configured.m == 0 ? configured : Gemm.V1;
    }

    /** The kernel {@code -Dlethe.gpu.gemm} configured (V1 below {@link #SECOND_KERNEL_FROM} rows regardless). */
    Gemm configured() {
        return configured;
    }

    /** From now on every product runs on the first kernel. */
    void fallBackToV1() {
        configured = Gemm.V1;
    }

    /** Split-K parts the given kernel uses for this matrix (1 off the tensor cores). */
    static int splits(DeviceMatrix w, Gemm g) {
        return tensorCores(w) ? splits(w.rows(), w.cols(), g) : 1;
    }

    /**
     * Split-K parts of a tensor-core product of a rows x cols matrix. The first kernel aims at two blocks per
     * multiprocessor, at least 4 chunks a split. The second kernels take the most splits that still fit the grid in
     * one wave of resident blocks: a memory-bound product needs enough bytes in flight, not more blocks than the
     * device holds (a partial second wave runs on few multiprocessors), and every split adds a partial sum of
     * nPad x rows floats that is written and read back (at 64 rows about as many bytes as 7% of the weights).
     */
    static int splits(int rows, int cols, Gemm g) {
        int tiles = rows / g.m, chunks = cols / TC_K;
        int wanted = g == Gemm.V1
                ? Math.clamp(Math.min(Math.max(1, (TC_TARGET_BLOCKS + tiles - 1) / tiles), chunks / TC_MIN_CHUNKS), 1, chunks)
                : Math.clamp(MULTIPROCESSORS * g.perProcessor / tiles, 1, Math.max(1, chunks / TC_MIN_CHUNKS));
        int perSplit = (chunks + wanted - 1) / wanted;
        return (chunks + perSplit - 1) / perSplit;
    }

    /** The most split-K parts any kernel writes for this matrix: partial buffers are sized for it. */
    static int maxSplits(DeviceMatrix w) {
        return tensorCores(w) ? maxSplits(w.rows(), w.cols()) : 1;
    }

    static int maxSplits(int rows, int cols) {
        int most = 1;
        for (Gemm g : Gemm.values()) {
            if (rows % g.m == 0) most = Math.max(most, splits(rows, cols, g));
        }
        return most;
    }

    /** Rows of X padded to the tensor cores' 16. */
    static int padded(int n) {
        return (n + 15) / 16 * 16;
    }

    /**
     * partial[s][b][r] for the n rows of X: BF16 weights on the tensor cores from the bf16 copy {@code x16} of
     * the input, other weights through the matrix-vector kernels from the f32 input {@code x32} (one split).
     * Returns the number of splits written. n at most {@link #MAX_ROWS}.
     */
    int gemm(DeviceMatrix w, CUdeviceptr x32, CUdeviceptr x16, CUdeviceptr partial, int n) {
        return gemm(w, x32, x16, partial, n, kernelFor(w, n));
    }

    /** {@link #gemm(DeviceMatrix, CUdeviceptr, CUdeviceptr, CUdeviceptr, int)} with the tensor-core kernel given (tests, benchmark). */
    int gemm(DeviceMatrix w, CUdeviceptr x32, CUdeviceptr x16, CUdeviceptr partial, int n, Gemm g) {
        if (n < 1 || n > MAX_ROWS) throw new IllegalArgumentException("batched product of " + n + " rows; 1.." + MAX_ROWS + " allowed");
        if (!tensorCores(w)) {
            kernels.matVec(w, x32, partial, n);
            return 1;
        }
        if (w.rows() % g.m != 0) throw new IllegalArgumentException(g + " product over " + w.rows() + " rows: a multiple of " + g.m + " needed");
        int splits = splits(w, g);
        int chunks = w.cols() / TC_K, perSplit = (chunks + splits - 1) / splits;
        int nPad = padded(n), unit = g.unit(n);
        if (g == Gemm.V1) {
            kernels.launch(gemm.get(g)[unit], w.rows() / g.m, splits, 256, gemmSharedBytes(g, nPad),
                    w.data().pointer(), x16, partial, w.rows(), w.cols(), n, perSplit);
        } else {
            kernels.launch(gemm.get(g)[unit], w.rows() / g.m, splits, 256, gemmSharedBytes(g, Math.min(unit * g.columnsPerUnit, nPad)),
                    w.data().pointer(), x16, partial, w.rows(), w.cols(), n, nPad, perSplit);
        }
        return splits;
    }

    /** float4s of a row each residual_norm thread keeps in registers (NORM_VECTORS in batch.cu). */
    private static final int NORM_VECTORS = 4;

    /** x[b] += reduced partial (none if partial is null); xn = rmsnorm(x) * weight as f32 and bf16. */
    void residualNorm(CUdeviceptr partial, int splits, int nPad, CUdeviceptr x, CUdeviceptr weight, CUdeviceptr xn,
                      CUdeviceptr xn16, int n, int dim, float eps) {
        if (dim % 4 != 0 || dim > 4 * NORM_VECTORS * 1024) {
            throw new IllegalArgumentException("model width " + dim + ": the batched RMSNorm takes multiples of 4 up to " + 4 * NORM_VECTORS * 1024);
        }
        // a float4 per thread where the row allows it: the most loads in flight on the row's multiprocessor
        int threads = Math.clamp((dim / 4 + 31) / 32 * 32, 32, 1024);
        kernels.launch(residualNorm, n, 1, threads, 0, partial, splits, nPad, x, weight, xn, xn16, dim, eps);
    }

    void swigluReduce(CUdeviceptr partial, int splits, int nPad, int ffn, CUdeviceptr h, CUdeviceptr h16, int n) {
        if (ffn % 4 != 0) throw new IllegalArgumentException("feed-forward width " + ffn + ": the batched SwiGLU takes multiples of 4");
        kernels.launch(swigluReduce, Kernels.blocks((long) n * ffn / 4, 256), 1, 256, 0, partial, splits, nPad, ffn, h, h16, n);
    }

    /** Where the paged pool and its block table are, and how they are laid out, for one layer's launches. */
    record Paged(PagedKvPool pool, CUdeviceptr seqSlot, CUdeviceptr lengths, CUdeviceptr blockTable, int maxBlocks, int layers) {}

    void qkvRopeAppend(CUdeviceptr partial, int splits, int nPad, CUdeviceptr q, Paged p, CUdeviceptr positions, int layer, int n,
                       int heads, int kvHeads, int headDim, CUdeviceptr inverseFrequency, boolean neox) {
        PagedKvPool pool = p.pool();
        kernels.launch(pool.type() == GgmlType.BF16 ? qkvBf16 : qkvF32, n, heads + kvHeads, Math.max(32, Math.min(128, headDim / 2)), 0,
                partial, splits, nPad, q, pool.keys().pointer(), pool.values().pointer(), pool.scoresOrNull(), p.seqSlot(),
                positions, p.lengths(), p.blockTable(), p.maxBlocks(), p.layers(), layer, heads, kvHeads, headDim,
                pool.blockSize(), inverseFrequency, neox ? 1 : 0);
    }

    /** Threads of a paged attention block (ATT_WARPS warps in batch.cu) and of its finish (FINISH_THREADS). */
    private static final int ATTENTION_THREADS = 128, FINISH_THREADS = 128;
    /** Attention blocks a launch aims at: several resident per multiprocessor, on 132 of them. */
    static final int ATTENTION_TARGET_BLOCKS = 8 * 132;
    /** Fewest and most slots per attention block. */
    static final int MIN_SLOTS_PER_SPLIT = 32, MAX_SLOTS_PER_SPLIT = 256;

    /**
     * Slots one attention block reduces: the grid's third dimension is ceil(max length / this). Short batches
     * split each sequence finely so the launch still fills the device; long or wide ones take up to
     * {@link #MAX_SLOTS_PER_SPLIT} slots a block, so the finish combines few splits. A multiple of 16.
     */
    static int slotsPerSplit(int maxLength, int n, int kvHeads) {
        int pairs = n * kvHeads;
        int wanted = Math.max(1, (ATTENTION_TARGET_BLOCKS + pairs - 1) / pairs);
        int per = ((maxLength + wanted - 1) / wanted + 15) / 16 * 16;
        return Math.clamp(per, MIN_SLOTS_PER_SPLIT, MAX_SLOTS_PER_SPLIT);
    }

    /** Bytes of the attention workspace for n sequences of at most maxLength slots (scores included if asked). */
    static long attentionWorkspaceBytes(int n, int heads, int headDim, int maxLength, boolean scores) {
        int splits = (maxLength + MIN_SLOTS_PER_SPLIT - 1) / MIN_SLOTS_PER_SPLIT;
        long partials = (long) n * heads * splits * (headDim + 2);
        return (partials + (scores ? (long) n * heads * maxLength : 0)) * Float.BYTES;
    }

    /**
     * Attention of one query per sequence (q [n][heads*headDim]) over its paged cache of the given layer: out
     * (f32 and bf16). With gamma >= 0 the pool's scores are updated too: S = gamma*S + attention summed over heads.
     */
    void attention(CUdeviceptr q, Paged p, int layer, int n, int maxLength, int heads, int kvHeads, int headDim, float scale,
                   DeviceBuffer workspace, int scoreStride, CUdeviceptr out, CUdeviceptr out16, float gamma) {
        int group = heads / kvHeads;
        if (group * kvHeads != heads || group > 8) {
            throw new IllegalArgumentException(heads + " query heads over " + kvHeads + " KV heads: the paged attention takes groups of 1..8");
        }
        if (headDim % 8 != 0 || headDim > 128) {
            throw new IllegalArgumentException("head size " + headDim + ": the paged attention takes multiples of 8 up to 128");
        }
        if (heads > FINISH_THREADS) throw new IllegalArgumentException(heads + " query heads: the paged attention takes up to " + FINISH_THREADS);
        if (maxLength > scoreStride) throw new IllegalArgumentException("length " + maxLength + " over the score stride " + scoreStride);
        int per = slotsPerSplit(maxLength, n, kvHeads);
        int splits = (maxLength + per - 1) / per;
        boolean scoring = gamma >= 0;
        long partials = (long) n * heads * splits;
        long needed = (partials * (headDim + 2) + (scoring ? (long) n * heads * scoreStride : 0)) * Float.BYTES;
        if (workspace.bytes() < needed) throw new IllegalArgumentException("attention workspace of " + workspace.bytes() + " bytes, " + needed + " needed");
        CUdeviceptr partialOut = workspace.pointer();
        CUdeviceptr partialMax = workspace.at(partials * headDim * Float.BYTES);
        CUdeviceptr partialSum = workspace.at(partials * (headDim + 1) * Float.BYTES);
        CUdeviceptr expScores = scoring ? workspace.at(partials * (headDim + 2) * Float.BYTES) : null;
        PagedKvPool pool = p.pool();
        int variant = 32 - Integer.numberOfLeadingZeros(group - 1); // log2 of the group rounded up to a power of two
        kernels.launch3d((pool.type() == GgmlType.BF16 ? attentionBf16 : attentionF32)[variant], kvHeads, n, splits, ATTENTION_THREADS,
                (group * (headDim + per + ATTENTION_THREADS / 32 * headDim) + per) * Float.BYTES,
                q, pool.keys().pointer(), pool.values().pointer(), p.seqSlot(), p.lengths(), p.blockTable(), p.maxBlocks(),
                p.layers(), layer, heads, kvHeads, headDim, pool.blockSize(), scale, per, partialOut, partialMax, partialSum,
                expScores, scoreStride);
        kernels.launch(attentionFinish, n, heads + (scoring ? splits : 0), FINISH_THREADS, 0,
                partialOut, partialMax, partialSum, out, out16, expScores, scoreStride, scoring ? pool.scoresOrNull() : null,
                gamma, p.seqSlot(), p.lengths(), p.blockTable(), p.maxBlocks(), p.layers(), layer, heads, headDim,
                pool.blockSize(), splits, per);
    }

    void embedding(DeviceMatrix table, CUdeviceptr inputTokens, CUdeviceptr seqSlot, CUdeviceptr lastToken, CUdeviceptr x, int n) {
        kernels.launch(embedding, n, 1, 256, 0, table.data().pointer(), table.type().id(), inputTokens, seqSlot, lastToken, x, table.cols());
    }

    void argmaxRows(CUdeviceptr logits, int vocab, int n, CUdeviceptr seqSlot, CUdeviceptr lastToken, CUdeviceptr chosen) {
        kernels.launch(argmaxRows, n, 1, 1024, 0, logits, vocab, seqSlot, lastToken, chosen);
    }

    /** dst[dstIndex[i]] = src[srcIndex[i]] for rows of {@code rowBytes} (a multiple of 4); a null index is the identity. */
    void moveRows(CUdeviceptr src, CUdeviceptr dst, CUdeviceptr srcIndex, CUdeviceptr dstIndex, int count, long rowBytes) {
        if (rowBytes % 4 != 0) throw new IllegalArgumentException("row of " + rowBytes + " bytes is not whole words");
        int words = (int) (rowBytes / 4);
        kernels.launch(moveRows, Kernels.blocks((long) count * words, 256), 1, 256, 0, src, dst, srcIndex, dstIndex, count, words);
    }

    void scatterInts(CUdeviceptr table, CUdeviceptr index, CUdeviceptr value, int count) {
        kernels.launch(scatterInts, Kernels.blocks(count, 256), 1, 256, 0, table, index, value, count);
    }
}
