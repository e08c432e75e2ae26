package dev.lethe.engine.gpu;

import static dev.lethe.engine.gpu.GpuSelfTest.compare;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.gpu.GpuSelfTest.Check;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The GPU self-test's checks of batched decoding: each batch kernel against a float64 reference on fresh
 * random inputs (outputs poisoned with NaN first), pool compaction bit for bit, and on a real model the
 * batched engine against the CPU engine, with sequences joining and leaving and Lethe freeing blocks.
 */
final class BatchSelfTest {
    private final GpuDevice device;
    private final BatchKernels k;
    private final Random random;
    private final List<Check> checks;

    BatchSelfTest(GpuDevice device, Random random, List<Check> checks) {
        this.device = device;
        this.k = device.kernels().batch();
        this.random = random;
        this.checks = checks;
    }

    private float[] randoms(int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (random.nextGaussian() * scale);
        return a;
    }

    private static DeviceBuffer poisoned(long n) {
        float[] nan = new float[(int) n];
        Arrays.fill(nan, Float.NaN);
        return DeviceBuffer.of(nan);
    }

    private static float[] download(DeviceBuffer b, int n) {
        float[] out = new float[n];
        b.download(out, 0, n, 0);
        return out;
    }

    private static float[] downloadBf16(DeviceBuffer b, int n) {
        byte[] bytes = new byte[2 * n];
        try (DeviceBuffer part = DeviceBuffer.allocate(2L * n)) {
            part.copyFrom(b, 0, 0, 2L * n);
            part.download(bytes);
        }
        return HostWeights.decode(bytes, GgmlType.BF16, n);
    }

    private static float[] bf16(float[] x) {
        return HostWeights.decode(HostWeights.encode(x, GgmlType.BF16), GgmlType.BF16, x.length);
    }

    void kernelChecks() {
        gemm(GgmlType.BF16, 256, 512, 1);
        gemm(GgmlType.BF16, 384, 1024, 13);
        gemm(GgmlType.BF16, 128, 4096, 64);
        gemm(GgmlType.BF16, 1024, 640, 128);
        gemm(GgmlType.F32, 200, 96, 7);
        // the second kernels (tall: 256 weight rows a block; grid: 2 x 4 warps) at every kind of batch: one row, a full
        // tile, odd sizes whose last fragment is partly padding, and the largest batch
        for (BatchKernels.Gemm g : List.of(BatchKernels.Gemm.TALL, BatchKernels.Gemm.GRID)) {
            gemm(g, 512, 1024, 1, ALL_ROWS);
            gemm(g, 256, 512, 16, ALL_ROWS);
            gemm(g, 512, 2048, 33, ALL_ROWS);
            gemm(g, 768, 1024, 64, ALL_ROWS);
            gemm(g, 512, 4096, 100, ALL_ROWS);
            gemm(g, 1024, 640, 128, ALL_ROWS);
        }
        // Llama-3-8B's products (q|k|v, o, gate|up, down) at batch 64 with every kernel, and at 128 with the one a step
        // uses; the float64 reference over 192 sampled weight rows, every output checked to be written and finite
        int[][] llama = {{6144, 4096}, {4096, 4096}, {28672, 4096}, {4096, 14336}};
        for (BatchKernels.Gemm g : BatchKernels.Gemm.values()) {
            for (int[] shape : llama) gemm(g, shape[0], shape[1], 64, 192);
        }
        for (int[] shape : llama) gemm(null, shape[0], shape[1], 128, 192);
        residualNorm(5, 4096, 3);
        residualNorm(2, 8192, 9); // two float4s per thread; more splits than the kernel loads at once
        residualNorm(1, 64, 1);   // threads that own nothing
        swigluReduce(9, 1000, 2);
        swigluReduce(3, 4096, 5);
        qkvRopeAppend(GgmlType.F32);
        qkvRopeAppend(GgmlType.BF16);
        attention(GgmlType.F32, new int[] {1, 37, 300, 1000}, 32, 8, 128, true);
        attention(GgmlType.BF16, new int[] {700, 5, 129, 2048, 64}, 32, 8, 128, true);
        attention(GgmlType.F32, new int[] {3, 90}, 8, 4, 8, true);
        // the benchmark's shapes: batch 1 at length 641 (splits of 32 slots), and 16 sequences, without scoring
        attention(GgmlType.BF16, new int[] {641}, 32, 8, 128, false);
        attention(GgmlType.BF16, random.ints(16, 1, 700).toArray(), 32, 8, 128, false);
        // every tail of the key passes (64 rows a block) and value passes (32 rows), splits of 256 slots
        attention(GgmlType.BF16, new int[] {1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 255, 256, 257, 511, 641, 1000, 3000},
                32, 8, 128, true);
        // the other group variants: 1, 3 (in the kernel for up to 4) and 8 query heads per KV head; head sizes 64, 96
        attention(GgmlType.F32, new int[] {77, 200}, 8, 8, 64, true);
        attention(GgmlType.BF16, new int[] {300, 31}, 12, 4, 96, true);
        attention(GgmlType.BF16, new int[] {450}, 32, 4, 128, false);
        compaction();
        device.synchronize();
    }

    /** The batched product, split-K partial sums added on the host, against float64 over the same bf16 inputs. */
    private void gemm(GgmlType type, int rows, int cols, int n) {
        float[] w = randoms(rows * cols, 1f), x = randoms(n * cols, 1f);
        byte[] stored = HostWeights.encode(w, type);
        float[] wd = HostWeights.decode(stored, type, w.length);
        boolean tc = type == GgmlType.BF16;
        float[] xd = tc ? bf16(x) : x;
        int nPad = BatchKernels.padded(n);
        DeviceMatrix probe;
        try (DeviceBuffer dw = DeviceBuffer.of(stored); DeviceBuffer dx = DeviceBuffer.of(x);
             DeviceBuffer dx16 = DeviceBuffer.of(HostWeights.encode(x, GgmlType.BF16))) {
            probe = new DeviceMatrix(dw, type, rows, cols);
            int maxSplits = BatchKernels.maxSplits(probe);
            try (DeviceBuffer partial = poisoned((long) maxSplits * nPad * rows)) {
                int splits = k.gemm(probe, dx.pointer(), dx16.pointer(), partial.pointer(), n);
                float[] p = download(partial, splits * nPad * rows);
                float[] got = new float[n * rows];
                double[] ref = new double[n * rows];
                for (int b = 0; b < n; b++) {
                    for (int r = 0; r < rows; r++) {
                        float sum = 0;
                        for (int s = 0; s < splits; s++) sum += p[(s * nPad + b) * rows + r];
                        got[b * rows + r] = sum;
                        double d = 0;
                        for (int c = 0; c < cols; c++) d += (double) wd[r * cols + c] * xd[b * cols + c];
                        ref[b * rows + r] = d;
                    }
                }
                checks.add(compare(String.format(Locale.ROOT, "batched product %s %dx%d rows %d", type, rows, cols, n), got, ref, 1e-5,
                        tc ? "tensor cores, " + splits + " splits, bf16 inputs in the reference too" : "matrix-vector path, f32 inputs"));
            }
        }
    }

    /** Check every weight row against the reference. */
    private static final int ALL_ROWS = Integer.MAX_VALUE;

    /**
     * A tensor-core product with the given kernel (null: the one a decode step picks for this shape), random BF16
     * weights made on the device, against float64 over the same bf16 inputs for {@code checkedRows} weight rows
     * (all of them, or a random sample with the first and last row). Every output of the batch is checked to be
     * finite (the partial buffer starts as NaN, so a tile the kernel fails to write fails the check).
     */
    private void gemm(BatchKernels.Gemm kernel, int rows, int cols, int n, int checkedRows) {
        float[] x = randoms(n * cols, 1f);
        float[] xd = bf16(x);
        int nPad = BatchKernels.padded(n);
        try (DeviceBuffer dw = DeviceBuffer.allocate(2L * rows * cols); DeviceBuffer dx = DeviceBuffer.of(x);
             DeviceBuffer dx16 = DeviceBuffer.of(HostWeights.encode(x, GgmlType.BF16))) {
            device.kernels().fillRandom(dw, GgmlType.BF16, random.nextLong(), 1f);
            byte[] stored = new byte[(int) dw.bytes()];
            dw.download(stored);
            DeviceMatrix probe = new DeviceMatrix(dw, GgmlType.BF16, rows, cols);
            BatchKernels.Gemm g = kernel != null ? kernel : k.kernelFor(probe, n);
            try (DeviceBuffer partial = poisoned((long) BatchKernels.maxSplits(probe) * nPad * rows)) {
                int splits = k.gemm(probe, dx.pointer(), dx16.pointer(), partial.pointer(), n, g);
                float[] p = download(partial, splits * nPad * rows);
                boolean allFinite = true;
                for (int b = 0; b < n; b++) {
                    for (int r = 0; r < rows; r++) {
                        float sum = 0;
                        for (int s = 0; s < splits; s++) sum += p[(s * nPad + b) * rows + r];
                        allFinite &= Float.isFinite(sum);
                    }
                }
                int[] checked = sampleRows(rows, checkedRows);
                float[] got = new float[n * checked.length];
                double[] ref = new double[n * checked.length];
                for (int i = 0; i < checked.length; i++) {
                    int r = checked[i];
                    float[] wr = HostWeights.decode(Arrays.copyOfRange(stored, 2 * r * cols, 2 * (r + 1) * cols), GgmlType.BF16, cols);
                    for (int b = 0; b < n; b++) {
                        float sum = 0;
                        for (int s = 0; s < splits; s++) sum += p[(s * nPad + b) * rows + r];
                        got[b * checked.length + i] = allFinite ? sum : Float.NaN;
                        double d = 0;
                        for (int c = 0; c < cols; c++) d += (double) wr[c] * xd[b * cols + c];
                        ref[b * checked.length + i] = d;
                    }
                }
                String sampled = checked.length == rows ? "" : ", " + checked.length + " rows sampled";
                checks.add(compare(String.format(Locale.ROOT, "product %s %dx%d rows %d", g.name().toLowerCase(Locale.ROOT), rows, cols, n),
                        got, ref, 1e-5, splits + " splits" + sampled + (allFinite ? "" : ", NOT every output written")));
            }
        }
    }

    /** {@code count} distinct weight rows in order, the first and the last among them (all rows if there are no more). */
    private int[] sampleRows(int rows, int count) {
        if (count >= rows) return java.util.stream.IntStream.range(0, rows).toArray();
        java.util.TreeSet<Integer> picked = new java.util.TreeSet<>(List.of(0, rows - 1));
        while (picked.size() < count) picked.add(random.nextInt(rows));
        return picked.stream().mapToInt(Integer::intValue).toArray();
    }

    private void residualNorm(int n, int dim, int splits) {
        int nPad = BatchKernels.padded(n);
        float[] partial = randoms(splits * nPad * dim, 1f), x = randoms(n * dim, 2f), weight = randoms(dim, 1f);
        float eps = 1e-5f;
        try (DeviceBuffer dp = DeviceBuffer.of(partial); DeviceBuffer dx = DeviceBuffer.of(x); DeviceBuffer dw = DeviceBuffer.of(weight);
             DeviceBuffer xn = poisoned((long) n * dim); DeviceBuffer xn16 = poisoned((long) n * dim)) {
            k.residualNorm(dp.pointer(), splits, nPad, dx.pointer(), dw.pointer(), xn.pointer(), xn16.pointer(), n, dim, eps);
            double[] refX = new double[n * dim], refN = new double[n * dim];
            for (int b = 0; b < n; b++) {
                double ss = 0;
                for (int i = 0; i < dim; i++) {
                    double v = x[b * dim + i];
                    for (int s = 0; s < splits; s++) v += partial[(s * nPad + b) * dim + i];
                    refX[b * dim + i] = v;
                    ss += v * v;
                }
                double scale = 1 / Math.sqrt(ss / dim + eps);
                for (int i = 0; i < dim; i++) refN[b * dim + i] = weight[i] * scale * refX[b * dim + i];
            }
            checks.add(compare("residual + split reduce " + n + "x" + dim, download(dx, n * dim), refX, 1e-6, splits + " splits"));
            checks.add(compare("  + rmsnorm (f32)", download(xn, n * dim), refN, 1e-6, ""));
            checks.add(compare("  + rmsnorm (bf16 copy)", downloadBf16(xn16, n * dim), refN, 8e-3, "bf16 rounding"));
        }
    }

    private void swigluReduce(int n, int ffn, int splits) {
        int nPad = BatchKernels.padded(n);
        float[] partial = randoms(splits * nPad * 2 * ffn, 1.5f);
        try (DeviceBuffer dp = DeviceBuffer.of(partial); DeviceBuffer h = poisoned((long) n * ffn); DeviceBuffer h16 = poisoned((long) n * ffn)) {
            k.swigluReduce(dp.pointer(), splits, nPad, ffn, h.pointer(), h16.pointer(), n);
            double[] ref = new double[n * ffn];
            for (int b = 0; b < n; b++) {
                for (int i = 0; i < ffn; i++) {
                    double g = 0, u = 0;
                    for (int s = 0; s < splits; s++) {
                        g += partial[(s * nPad + b) * 2 * ffn + i];
                        u += partial[(s * nPad + b) * 2 * ffn + ffn + i];
                    }
                    ref[b * ffn + i] = g / (1 + Math.exp(-g)) * u;
                }
            }
            checks.add(compare("swiglu + split reduce " + n + "x" + ffn, download(h, n * ffn), ref, 1e-6, ""));
            checks.add(compare("  (bf16 copy)", downloadBf16(h16, n * ffn), ref, 8e-3, "bf16 rounding"));
        }
    }

    /** A pool with a scrambled block table: {@code lengths[b]} slots of sequence slot b in one layer of two. */
    private record Scene(PagedKvPool pool, SequenceBlocks[] seqs, DeviceBuffer seqSlot, DeviceBuffer lengths, DeviceBuffer table,
                         int maxBlocks) implements AutoCloseable {
        BatchKernels.Paged paged() {
            return new BatchKernels.Paged(pool, seqSlot.pointer(), lengths.pointer(), table.pointer(), maxBlocks, 2);
        }

        @Override
        public void close() {
            pool.close();
            seqSlot.close();
            lengths.close();
            table.close();
        }
    }

    private Scene scene(GgmlType type, KvLayout layout, int[] lengths, int layer) {
        int blockSize = 16, maxBlocks = Arrays.stream(lengths).max().orElse(1) / blockSize + 2;
        int blocks = 0;
        for (int len : lengths) blocks += 2 * ((len + blockSize) / blockSize);
        PagedKvPool pool = new PagedKvPool(layout, type, blockSize, blocks + 8, true);
        // hand blocks out in a shuffled order, so sequences' blocks interleave
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < pool.blocks(); i++) order.add(pool.allocator().allocate());
        Collections.shuffle(order, random);
        for (int b : order) pool.allocator().release(b);
        int n = lengths.length;
        int[] table = new int[n * 2 * maxBlocks];
        int[] lengthsByLayer = new int[n * 2];
        SequenceBlocks[] seqs = new SequenceBlocks[n];
        // slot b of the batch is sequence slot n-1-b, so batch order and table order differ
        int[] seqSlot = new int[n];
        for (int b = 0; b < n; b++) {
            seqSlot[b] = n - 1 - b;
            seqs[b] = new SequenceBlocks(2, blockSize, maxBlocks);
            int slot = seqSlot[b];
            for (int p = 0; p < lengths[b]; p++) seqs[b].append(p, pool.allocator(), (l, i, blk) -> table[(slot * 2 + l) * maxBlocks + i] = blk);
            lengthsByLayer[b * 2 + layer] = lengths[b];
            lengthsByLayer[b * 2 + 1 - layer] = 1;
        }
        return new Scene(pool, seqs, DeviceBuffer.of(seqSlot), DeviceBuffer.of(lengthsByLayer), DeviceBuffer.of(table), maxBlocks);
    }

    /** Uploads host rows [b][slot][kvDim] into the pool rows of each sequence's slots (layer given). */
    private static void fill(Scene s, DeviceBuffer target, float[][] rows, int layer, int width, GgmlType type) {
        int elem = type == GgmlType.BF16 ? 2 : 4;
        for (int b = 0; b < rows.length; b++) {
            int len = rows[b].length / width;
            for (int slot = 0; slot < len; slot++) {
                float[] row = Arrays.copyOfRange(rows[b], slot * width, (slot + 1) * width);
                try (DeviceBuffer one = DeviceBuffer.of(HostWeights.encode(row, type))) {
                    target.copyFrom(one, 0, (long) s.seqs()[b].row(layer, slot) * width * elem, (long) width * elem);
                }
            }
        }
    }

    private void qkvRopeAppend(GgmlType type) {
        int n = 3, heads = 8, kvHeads = 2, hd = 64, splits = 2, layer = 1;
        int qDim = heads * hd, kvDim = kvHeads * hd, rows = qDim + 2 * kvDim, nPad = BatchKernels.padded(n);
        KvLayout layout = new KvLayout(2, kvHeads, hd);
        int[] lengths = {5, 17, 40}; // after the append: the new token goes to slot length - 1
        int[] positions = {1000 + random.nextInt(50_000), 7, 39};
        double[] inverse = new double[hd / 2];
        for (int i = 0; i < inverse.length; i++) inverse[i] = Math.pow(500_000, -2.0 * i / hd);
        float[] partial = randoms(splits * nPad * rows, 1f);
        try (Scene s = scene(type, layout, lengths, layer); DeviceBuffer dp = DeviceBuffer.of(partial); DeviceBuffer q = poisoned((long) n * qDim);
             DeviceBuffer pos = DeviceBuffer.of(positions); DeviceBuffer freq = DeviceBuffer.of(inverse)) {
            float[] nanScores = new float[s.pool().blocks() * s.pool().blockSize()];
            Arrays.fill(nanScores, Float.NaN);
            s.pool().scores().upload(nanScores, 0, nanScores.length, 0);
            k.qkvRopeAppend(dp.pointer(), splits, nPad, q.pointer(), s.paged(), pos.pointer(), layer, n, heads, kvHeads, hd, freq.pointer(), false);
            double[] refQ = new double[n * qDim], refK = new double[n * kvDim], refV = new double[n * kvDim];
            for (int b = 0; b < n; b++) {
                double[] row = new double[rows];
                for (int r = 0; r < rows; r++) for (int j = 0; j < splits; j++) row[r] += partial[(j * nPad + b) * rows + r];
                for (int h = 0; h < heads + kvHeads; h++) {
                    int base = h < heads ? h * hd : qDim + (h - heads) * hd;
                    for (int i = 0; i < hd / 2; i++) {
                        double angle = positions[b] * inverse[i], x0 = row[base + 2 * i], x1 = row[base + 2 * i + 1];
                        double[] out = h < heads ? refQ : refK;
                        int o = h < heads ? b * qDim + h * hd : b * kvDim + (h - heads) * hd;
                        out[o + 2 * i] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                        out[o + 2 * i + 1] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
                    }
                }
                for (int i = 0; i < kvDim; i++) refV[b * kvDim + i] = row[qDim + kvDim + i];
            }
            float[] gotK = new float[n * kvDim], gotV = new float[n * kvDim];
            float[] scoreOfNew = new float[n];
            float[] allScores = download(s.pool().scores(), nanScores.length);
            for (int b = 0; b < n; b++) {
                int row = s.seqs()[b].row(layer, lengths[b] - 1);
                System.arraycopy(poolRow(s.pool().keys(), row, kvDim, type), 0, gotK, b * kvDim, kvDim);
                System.arraycopy(poolRow(s.pool().values(), row, kvDim, type), 0, gotV, b * kvDim, kvDim);
                scoreOfNew[b] = allScores[row];
            }
            double tol = type == GgmlType.BF16 ? 8e-3 : 1e-6;
            String t = type == GgmlType.BF16 ? "bf16" : "f32";
            checks.add(compare("qkv reduce + rope: q", download(q, n * qDim), refQ, 1e-6, "positions up to " + positions[0]));
            checks.add(compare("  k appended to " + t + " pool (paged rows)", gotK, refK, tol, ""));
            checks.add(compare("  v appended to " + t + " pool (paged rows)", gotV, refV, tol, "new slots' scores 0: "
                    + (scoreOfNew[0] == 0 && scoreOfNew[1] == 0 && scoreOfNew[2] == 0)));
            if (!(scoreOfNew[0] == 0 && scoreOfNew[1] == 0 && scoreOfNew[2] == 0)) checks.add(new Check("  new slot score 0", 1, 1, 0, Arrays.toString(scoreOfNew)));
        }
    }

    private static float[] poolRow(DeviceBuffer data, int row, int width, GgmlType type) {
        int elem = type == GgmlType.BF16 ? 2 : 4;
        byte[] bytes = new byte[width * elem];
        try (DeviceBuffer one = DeviceBuffer.allocate(bytes.length)) {
            one.copyFrom(data, (long) row * width * elem, 0, bytes.length);
            one.download(bytes);
        }
        return HostWeights.decode(bytes, type, width);
    }

    /**
     * Paged attention with ragged lengths against float64, and (if scoring) the RASR score update it makes on the
     * way; without scoring the scores must stay as they were.
     */
    private void attention(GgmlType type, int[] lengths, int heads, int kvHeads, int hd, boolean scoring) {
        int n = lengths.length, kvDim = kvHeads * hd, group = heads / kvHeads, layer = 0;
        KvLayout layout = new KvLayout(2, kvHeads, hd);
        float scale = (float) (1 / Math.sqrt(hd)), gamma = scoring ? 0.9f : -1f;
        int maxLength = Arrays.stream(lengths).max().getAsInt(), stride = maxLength + 16;
        float[] q = randoms(n * heads * hd, 1f);
        float[][] keys = new float[n][], values = new float[n][], scores = new float[n][];
        try (Scene s = scene(type, layout, lengths, layer); DeviceBuffer dq = DeviceBuffer.of(q);
             DeviceBuffer out = poisoned((long) n * heads * hd); DeviceBuffer out16 = poisoned((long) n * heads * hd);
             DeviceBuffer workspace = DeviceBuffer.allocate(BatchKernels.attentionWorkspaceBytes(n, heads, hd, stride, scoring))) {
            for (int b = 0; b < n; b++) {
                keys[b] = randoms(lengths[b] * kvDim, 1f);
                values[b] = randoms(lengths[b] * kvDim, 1f);
                scores[b] = randoms(lengths[b], 1f);
                if (type == GgmlType.BF16) {
                    keys[b] = bf16(keys[b]);
                    values[b] = bf16(values[b]);
                }
            }
            fill(s, s.pool().keys(), keys, layer, kvDim, type);
            fill(s, s.pool().values(), values, layer, kvDim, type);
            fill(s, s.pool().scores(), scores, layer, 1, GgmlType.F32);
            k.attention(dq.pointer(), s.paged(), layer, n, maxLength, heads, kvHeads, hd, scale, workspace, stride, out.pointer(),
                    out16.pointer(), gamma);
            double[] refOut = new double[n * heads * hd];
            List<double[]> refScores = new ArrayList<>();
            for (int b = 0; b < n; b++) {
                int len = lengths[b];
                double[] sNew = new double[len];
                for (int j = 0; j < len; j++) sNew[j] = scoring ? gamma * scores[b][j] : scores[b][j];
                for (int h = 0; h < heads; h++) {
                    int kvh = h / group;
                    double[] p = new double[len];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        double d = 0;
                        for (int i = 0; i < hd; i++) d += (double) q[(b * heads + h) * hd + i] * keys[b][j * kvDim + kvh * hd + i];
                        p[j] = d * scale;
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < len; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int j = 0; j < len; j++) {
                        p[j] /= sum;
                        if (scoring) sNew[j] += p[j];
                        for (int i = 0; i < hd; i++) refOut[(b * heads + h) * hd + i] += p[j] * values[b][j * kvDim + kvh * hd + i];
                    }
                }
                refScores.add(sNew);
            }
            float[] allScores = download(s.pool().scores(), s.pool().blocks() * s.pool().blockSize());
            int total = Arrays.stream(lengths).sum();
            float[] gotScores = new float[total];
            double[] wantScores = new double[total];
            int at = 0;
            for (int b = 0; b < n; b++) {
                for (int j = 0; j < lengths[b]; j++, at++) {
                    gotScores[at] = allScores[s.seqs()[b].row(layer, j)];
                    wantScores[at] = refScores.get(b)[j];
                }
            }
            String lens = n <= 5 ? Arrays.toString(lengths).replace(" ", "") : n + " lengths " + Arrays.stream(lengths).min().getAsInt()
                    + ".." + maxLength;
            String shape = String.format(Locale.ROOT, "%s h%d/kv%d d%d lens %s", type == GgmlType.BF16 ? "bf16" : "f32", heads, kvHeads, hd, lens);
            int per = BatchKernels.slotsPerSplit(maxLength, n, kvHeads);
            checks.add(compare("paged attention " + shape, download(out, refOut.length), refOut, 1e-5,
                    "ragged, scrambled blocks, " + (maxLength + per - 1) / per + " splits of " + per));
            if (scoring) checks.add(compare("  RASR scores γS + Σ_h p", gotScores, wantScores, 1e-5, "γ " + gamma));
            else checks.add(compare("  no scoring: scores untouched", gotScores, wantScores, 0, "exact"));
            checks.add(compare("  (bf16 copy of out)", downloadBf16(out16, refOut.length), refOut, 8e-3, "bf16 rounding"));
        }
    }

    /** Pruning rounds in several sequences and layers, applied by the device: every kept row moved bit for bit. */
    private void compaction() {
        KvLayout layout = new KvLayout(2, 2, 16);
        int kvDim = layout.kvDim();
        try (PagedKvPool pool = new PagedKvPool(layout, GgmlType.F32, 16, 64, true); PoolCompactor compactor = new PoolCompactor(k, pool, 100)) {
            int n = 3;
            SequenceBlocks[] seqs = new SequenceBlocks[n];
            for (int b = 0; b < n; b++) seqs[b] = new SequenceBlocks(2, 16, 16);
            // interleaved appends, so each sequence's blocks are scattered through the pool
            int[] lengths = {70, 33, 100};
            for (int p = 0; p < 100; p++) for (int b = 0; b < n; b++) if (p < lengths[b]) seqs[b].append(p, pool.allocator(), (l, i, blk) -> { });
            int rows = pool.blocks() * pool.blockSize();
            float[] keys = randoms(rows * kvDim, 1f), values = randoms(rows * kvDim, 1f), scores = randoms(rows, 1f);
            pool.keys().upload(keys, 0, keys.length, 0);
            pool.values().upload(values, 0, values.length, 0);
            pool.scores().upload(scores, 0, scores.length, 0);
            SequenceBlocks.RowMoves moves = new SequenceBlocks.RowMoves();
            List<double[]> expected = new ArrayList<>();
            List<int[]> where = new ArrayList<>();
            int freeBefore = pool.freeBlocks();
            for (int b = 0; b < n; b++) {
                for (int l = 0; l < 2; l++) {
                    int len = seqs[b].length(l);
                    int[] keep = random.ints(0, len).distinct().limit(Math.max(1, len / 4)).sorted().toArray();
                    double[] want = new double[keep.length * (2 * kvDim + 1)];
                    for (int i = 0; i < keep.length; i++) {
                        int row = seqs[b].row(l, keep[i]);
                        for (int e = 0; e < kvDim; e++) {
                            want[i * (2 * kvDim + 1) + e] = keys[row * kvDim + e];
                            want[i * (2 * kvDim + 1) + kvDim + e] = values[row * kvDim + e];
                        }
                        want[i * (2 * kvDim + 1) + 2 * kvDim] = scores[row];
                    }
                    seqs[b].compact(l, keep, moves, pool.allocator());
                    expected.add(want);
                    where.add(new int[] {b, l, keep.length});
                }
            }
            compactor.apply(moves); // chunks of 100 rows: several passes
            device.synchronize();
            float[] k2 = download(pool.keys(), keys.length), v2 = download(pool.values(), values.length), s2 = download(pool.scores(), scores.length);
            double maxAbs = 0;
            for (int c = 0; c < expected.size(); c++) {
                int b = where.get(c)[0], l = where.get(c)[1], kept = where.get(c)[2];
                double[] want = expected.get(c);
                for (int i = 0; i < kept; i++) {
                    int row = seqs[b].row(l, i);
                    for (int e = 0; e < kvDim; e++) {
                        maxAbs = Math.max(maxAbs, Math.abs(k2[row * kvDim + e] - want[i * (2 * kvDim + 1) + e]));
                        maxAbs = Math.max(maxAbs, Math.abs(v2[row * kvDim + e] - want[i * (2 * kvDim + 1) + kvDim + e]));
                    }
                    maxAbs = Math.max(maxAbs, Math.abs(s2[row] - want[i * (2 * kvDim + 1) + 2 * kvDim]));
                }
            }
            checks.add(new Check("pool compaction, 6 rounds, " + moves.count() + " rows moved", maxAbs, maxAbs, 0,
                    String.format(Locale.ROOT, "exact; free blocks %d -> %d", freeBefore, pool.freeBlocks())));
            if (pool.freeBlocks() <= freeBefore) checks.add(new Check("  rounds returned blocks", 1, 1, 0, "free blocks did not rise"));
        }
    }


    /**
     * On a real model: sequences of different prompts and lengths through the batched engine, at most three at
     * a time (so they join and leave mid-run), against the CPU engine fed the same tokens one at a time; then
     * Lethe, where a second sequence waits for blocks until the first one's pruning rounds free them. Each case
     * runs twice on the same prompts: launches queued one by one, then replayed as CUDA graphs.
     */
    void modelChecks(Model model, GpuModel gpu) {
        try (BatchModel batchModel = BatchModel.of(gpu)) {
            fullCache(model, batchModel);
            lethe(model, batchModel);
        }
    }

    private int[] prompt(Model model, int length) {
        int[] p = new int[length];
        p[0] = model.tokenizer().bosId();
        for (int i = 1; i < length; i++) p[i] = 3 + random.nextInt(model.config().vocabularySize() - 3);
        return p;
    }

    /** Greedy tokens of the CPU engine, feeding the prompt one token per step as the batched engine does. */
    private static int[] cpuGreedy(Model model, PolicySpec spec, int[] prompt, int generate) {
        OffHeapKvCache cache = KvCaches.create(model.kvLayout(), spec);
        cache.declarePromptLength(prompt.length);
        try (Sequence s = model.newSequence(cache)) {
            float[] logits = null;
            for (int token : prompt) logits = s.forward(token);
            int[] ids = new int[generate];
            for (int i = 0; i < generate; i++) {
                ids[i] = Sampler.argmax(logits);
                if (i + 1 < generate) logits = s.forward(ids[i]);
            }
            return ids;
        }
    }

    private static Check sameIds(String name, List<BatchSequence> seqs, List<int[]> cpu) {
        int mismatched = 0;
        String first = "";
        for (int i = 0; i < seqs.size(); i++) {
            int[] gpu = seqs.get(i).produced();
            if (!Arrays.equals(gpu, cpu.get(i))) {
                if (mismatched++ == 0) {
                    int at = 0;
                    while (at < Math.min(gpu.length, cpu.get(i).length) && gpu[at] == cpu.get(i)[at]) at++;
                    first = "; sequence " + i + " differs first at token " + at;
                }
            }
        }
        return new Check(name, mismatched, mismatched, 0, mismatched == 0 ? "all equal" : mismatched + " sequences differ" + first);
    }

    private static String mode(boolean graphs) {
        return graphs ? " (graphs)" : " (no graphs)";
    }

    /** The graph-mode run's checks beyond the CPU's ids: the same ids as without graphs, and graphs really replayed. */
    private void graphChecks(String name, List<BatchSequence> withGraphs, List<BatchSequence> without, BatchDecoder decoder) {
        int differ = 0;
        for (int i = 0; i < withGraphs.size(); i++) if (!Arrays.equals(withGraphs.get(i).produced(), without.get(i).produced())) differ++;
        checks.add(new Check("  " + name + ": graphs == no graphs", differ, differ, 0, differ == 0 ? "all equal" : differ + " sequences differ"));
        boolean replayed = decoder.graphReplays() > 0 && decoder.graphCaptures() > 0;
        checks.add(new Check("  " + name + ": steps ran as graphs", replayed ? 0 : 1, replayed ? 0 : 1, 0,
                decoder.graphCaptures() + " graphs recorded, " + decoder.graphReplays() + " replays, " + decoder.graphEvictions() + " evicted"));
    }

    private void fullCache(Model model, BatchModel batchModel) {
        int[] promptLengths = {1, 3, 12, 7, 2, 20}, generate = {40, 25, 60, 33, 50, 9};
        List<int[]> prompts = new ArrayList<>(), cpu = new ArrayList<>();
        for (int i = 0; i < promptLengths.length; i++) {
            prompts.add(prompt(model, promptLengths[i]));
            cpu.add(cpuGreedy(model, PolicySpec.full(), prompts.get(i), generate[i]));
        }
        List<BatchSequence> without = null;
        for (boolean graphs : new boolean[] {false, true}) {
            List<BatchSequence> seqs = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) seqs.add(new BatchSequence(i, prompts.get(i), generate[i], true));
            try (PagedKvPool pool = new PagedKvPool(model.kvLayout(), GgmlType.F32, 16, 400, false);
                 BatchDecoder decoder = new BatchDecoder(batchModel, pool, 3, 128, graphs)) {
                int[] joins = new int[1];
                BatchDecoder.RunStats stats = decoder.run(seqs, BatchPolicy.full(), (step, running, waiting, before, after, admitted) -> joins[0] += admitted);
                checks.add(sameIds("batched greedy ids vs cpu, " + seqs.size() + " sequences" + mode(graphs), seqs, cpu));
                checks.add(new Check("  continuous batching: joins mid-run" + mode(graphs), joins[0] > 0 ? 0 : 1, joins[0] > 0 ? 0 : 1, 0,
                        String.format(Locale.ROOT, "%d joined after the first step, peak batch %d, %d steps, blocks back %d/%d",
                                joins[0], stats.peakBatch(), stats.steps(), pool.freeBlocks(), pool.blocks())));
                if (pool.freeBlocks() != pool.blocks()) checks.add(new Check("  every block returned", 1, 1, 0, pool.freeBlocks() + " of " + pool.blocks()));
                if (graphs) graphChecks("full cache", seqs, without, decoder);
            }
            without = seqs;
        }
    }

    private void lethe(Model model, BatchModel batchModel) {
        PolicySpec spec = PolicySpec.of("lethe", "delta", "32", "sparse-ratio", "2", "recent-ratio", "0.1");
        List<int[]> prompts = List.of(prompt(model, 40), prompt(model, 90));
        int[] generate = {300, 40};
        List<int[]> cpu = List.of(cpuGreedy(model, spec, prompts.get(0), generate[0]), cpuGreedy(model, spec, prompts.get(1), generate[1]));
        List<BatchSequence> without = null;
        for (boolean graphs : new boolean[] {false, true}) {
            List<BatchSequence> seqs = List.of(new BatchSequence(0, prompts.get(0), generate[0], true), new BatchSequence(1, prompts.get(1), generate[1], true));
            lethe(model, batchModel, spec, seqs, cpu, graphs, without);
            without = seqs;
        }
    }

    private void lethe(Model model, BatchModel batchModel, PolicySpec spec, List<BatchSequence> seqs, List<int[]> cpu, boolean graphs,
                       List<BatchSequence> without) {
        int firstTokens = seqs.get(0).maxNewTokens(), firstPrompt = seqs.get(0).promptLength();
        // 45 blocks of 16 slots over 5 layers: the second prompt (6 blocks a layer) plus the watermark does not fit
        // beside the first sequence until a pruning round has shrunk it
        int layers = model.config().layers();
        int blocks = 9 * layers;
        try (PagedKvPool pool = new PagedKvPool(model.kvLayout(), GgmlType.F32, 16, blocks, true);
             BatchDecoder decoder = new BatchDecoder(batchModel, pool, 4, 512, graphs)) {
            long[] admittedAt = {-1};
            int[] freeAtAdmission = {0, 0};
            long[] roundsBefore = {0};
            BatchDecoder.RunStats stats = decoder.run(seqs, BatchPolicy.lethe(spec, model.kvLayout()), (step, running, waiting, before, after, admitted) -> {
                if (admitted > 0 && admittedAt[0] < 0) {
                    admittedAt[0] = step;
                    freeAtAdmission[0] = before;
                    freeAtAdmission[1] = after;
                    roundsBefore[0] = decoder.rounds();
                }
            });
            boolean waitedForRounds = admittedAt[0] > 0 && roundsBefore[0] > 0 && freeAtAdmission[1] > freeAtAdmission[0]
                    && seqs.get(0).generated() == firstTokens && admittedAt[0] < firstPrompt + firstTokens - 1;
            checks.add(new Check("lethe frees blocks, a waiting sequence joins" + mode(graphs), waitedForRounds ? 0 : 1, waitedForRounds ? 0 : 1, 0,
                    String.format(Locale.ROOT, "admitted after step %d, free blocks %d -> %d by %d rounds; %d rounds in all, kept %.3f, %d preemptions",
                            admittedAt[0], freeAtAdmission[0], freeAtAdmission[1], roundsBefore[0], stats.rounds(), stats.meanKeptFraction(),
                            stats.preemptions())));
            checks.add(sameIds("lethe batched greedy ids vs cpu lethe" + mode(graphs), seqs, cpu));
            if (graphs) graphChecks("lethe", seqs, without, decoder);
        }
    }
}
