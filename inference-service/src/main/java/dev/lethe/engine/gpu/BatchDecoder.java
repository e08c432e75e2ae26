package dev.lethe.engine.gpu;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

import dev.lethe.cache.KvLayout;
import dev.lethe.cache.policy.LayerView;
import dev.lethe.cache.policy.Selection;
import dev.lethe.engine.model.ModelConfig;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;

/**
 * Batched decoding on the GPU with continuous batching over a paged KV pool. Each step feeds one token to
 * every running sequence (a prompt token or the one the device sampled last) and reads every weight once for
 * the whole batch: four products per layer (q|k|v, o, gate|up, down), BF16 weights on the tensor cores, each
 * followed by one fused kernel; attention reads each sequence's own blocks at its own per-layer length.
 *
 * <p>Per step the host sends, in one asynchronous copy from pinned memory, the batch's sequence slots,
 * positions, input tokens and per-layer lengths plus the block-table entries that changed; nothing comes
 * back unless tokens are recorded or a pruning round needs a layer's scores. A pruning policy's rounds run
 * after the step: the selector (lethe-cache's, over the RASR scores the attention kernel keeps on the device)
 * picks the kept slots, the device compacts them to the front of the layer's blocks, and the emptied blocks
 * go back to the pool, where they admit waiting sequences.
 *
 * <p>The step's launches (about ten per layer, each ~9 µs of host time through JCuda) are recorded once as a
 * CUDA graph and replayed with one call ({@link StepGraphs}); the system property {@code lethe.gpu.graphs=false}
 * or the constructor's flag queues them one by one instead.
 */
public final class BatchDecoder implements AutoCloseable {
    /** Pool rows one compaction pass moves (the scratch area's size). */
    private static final int MOVE_CHUNK = 1 << 16;
    private static final int STAGING_RING = 3;
    /** A graph sizes each layer's attention grid for its longest sequence rounded up to a multiple of this. */
    static final int ATTENTION_BUCKET = 256;
    /** Step graphs kept instantiated. */
    private static final int GRAPH_CACHE = 16;

    private final BatchModel model;
    private final ModelConfig c;
    private final PagedKvPool pool;
    private final BatchKernels k;
    private final int maxBatch, maxBlocks, maxContext, layers;
    private final float scale;
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private final DeviceBuffer x, xn, xn16, q, att, att16, h, h16, partial, workspace, meta, blockTable, lastToken, chosen,
            scoreIndex, scoreStage;
    private final PoolCompactor compactor;
    private final Staging[] staging = new Staging[STAGING_RING];
    private int nextStaging;
    /** Null: the step's launches are queued one by one. */
    private final StepGraphs graphs;
    private StepProfile profile;
    /** The profile of the step in progress if it times its parts, else null. */
    private StepProfile timing;
    private long rounds, roundSlotsBefore, roundSlotsAfter;

    /** Whether decoders use CUDA graphs unless told: yes, but for {@code -Dlethe.gpu.graphs=false}. */
    static boolean graphsByDefault() {
        return !"false".equalsIgnoreCase(System.getProperty("lethe.gpu.graphs", "true"));
    }

    /** A decoder that replays its steps as CUDA graphs unless {@code -Dlethe.gpu.graphs=false}. */
    public BatchDecoder(BatchModel model, PagedKvPool pool, int maxBatch, int maxContext) {
        this(model, pool, maxBatch, maxContext, graphsByDefault());
    }

    /**
     * @param maxBatch   sequences per step, at most {@link BatchKernels#MAX_ROWS}
     * @param maxContext the longest sequence (prompt + generated) the block table holds
     * @param useGraphs  replay each step's launches as a CUDA graph (else queue them one by one)
     */
    public BatchDecoder(BatchModel model, PagedKvPool pool, int maxBatch, int maxContext, boolean useGraphs) {
        if (maxBatch < 1 || maxBatch > BatchKernels.MAX_ROWS) {
            throw new IllegalArgumentException("batch of " + maxBatch + " sequences; 1.." + BatchKernels.MAX_ROWS + " allowed");
        }
        this.model = model;
        this.c = model.config();
        this.pool = pool;
        this.k = model.device().kernels().batch();
        this.maxBatch = maxBatch;
        this.layers = c.layers();
        this.maxBlocks = (maxContext + pool.blockSize() - 1) / pool.blockSize();
        this.maxContext = maxBlocks * pool.blockSize();
        this.scale = (float) (1.0 / Math.sqrt(c.headDim()));
        int pad = BatchKernels.padded(maxBatch);
        x = floats((long) pad * c.dim());
        xn = floats((long) pad * c.dim());
        xn16 = buffer((long) pad * c.dim() * 2);
        q = floats((long) pad * c.qDim());
        att = floats((long) pad * c.qDim());
        att16 = buffer((long) pad * c.qDim() * 2);
        h = floats((long) pad * c.ffnDim());
        h16 = buffer((long) pad * c.ffnDim() * 2);
        partial = floats(model.partialFloats(pad));
        boolean scoring = pool.scores() != null;
        workspace = buffer(BatchKernels.attentionWorkspaceBytes(maxBatch, c.heads(), c.headDim(), this.maxContext, scoring));
        int metaInts = metaInts();
        meta = buffer((long) metaInts * Integer.BYTES);
        blockTable = buffer((long) maxBatch * layers * maxBlocks * Integer.BYTES);
        lastToken = buffer((long) maxBatch * Integer.BYTES);
        chosen = buffer((long) maxBatch * Integer.BYTES);
        compactor = new PoolCompactor(k, pool, MOVE_CHUNK);
        scoreIndex = buffer((long) this.maxContext * Integer.BYTES);
        scoreStage = floats(this.maxContext);
        CUstream stream = model.device().stream();
        for (int i = 0; i < STAGING_RING; i++) staging[i] = new Staging(metaInts, stream);
        graphs = useGraphs ? new StepGraphs(stream, GRAPH_CACHE) : null;
    }

    private int metaInts() {
        return 3 * maxBatch + maxBatch * layers + 2 * maxBatch * layers;
    }

    private DeviceBuffer buffer(long bytes) {
        DeviceBuffer b = DeviceBuffer.allocate(bytes);
        owned.add(b);
        return b;
    }

    private DeviceBuffer floats(long count) {
        return buffer(count * Float.BYTES);
    }

    public PagedKvPool pool() {
        return pool;
    }

    public int maxContext() {
        return maxContext;
    }

    /** Whether steps are replayed as CUDA graphs. */
    public boolean usesGraphs() {
        return graphs != null;
    }

    /** Step graphs recorded and replayed so far (0 and 0 without graphs). */
    long graphCaptures() {
        return graphs == null ? 0 : graphs.captures();
    }

    long graphReplays() {
        return graphs == null ? 0 : graphs.replays();
    }

    long graphEvictions() {
        return graphs == null ? 0 : graphs.evictions();
    }

    /** Times the next steps this decoder runs (the benchmark's breakdown); see {@link StepProfile}. */
    void profile(StepProfile p) {
        this.profile = p;
    }

    /** Pruning rounds run so far, and the slots they held before and kept after. */
    public long rounds() {
        return rounds;
    }

    public double meanKeptFraction() {
        return roundSlotsBefore == 0 ? 1 : (double) roundSlotsAfter / roundSlotsBefore;
    }

    /**
     * What one run reports: generated counts the tokens of unfinished sequences too where the run was stopped
     * early ({@code unfinished} of them).
     */
    public record RunStats(String policy, int requests, long steps, long generated, double seconds, double meanBatch, int peakBatch,
                           int peakBlocksUsed, long preemptions, long wastedTokens, long rounds, double meanKeptFraction, int unfinished) {
        public double tokensPerSecond() {
            return generated / seconds;
        }
    }

    /** Sees the run after each step (tests). */
    public interface StepObserver {
        void afterStep(long step, int running, int waiting, int freeBlocksBeforeRounds, int freeBlocksAfterRounds, int admittedNext);
    }

    /**
     * Runs the requests to completion under the policy: continuous batching, admission by free blocks,
     * preemption where the policy allows it. Tokens are recorded only if the sequences were made to record them.
     */
    public RunStats run(List<BatchSequence> requests, BatchPolicy policy, StepObserver observer) {
        return run(requests, policy, observer, null);
    }

    /** {@link #run(List, BatchPolicy, StepObserver)}, stopped after the first step at which {@code stop} answers true (if given). */
    public RunStats run(List<BatchSequence> requests, BatchPolicy policy, StepObserver observer, java.util.function.BooleanSupplier stop) {
        if (policy.prunes() && pool.scores() == null) throw new IllegalArgumentException("policy " + policy.name() + " needs a pool that keeps scores");
        BatchScheduler scheduler = new BatchScheduler(pool.allocator(), layers, pool.blockSize(), maxBlocks, maxBatch, policy);
        boolean record = false;
        for (BatchSequence s : requests) {
            scheduler.submit(s);
            record |= s.records();
        }
        currentGamma = policy.prunes() ? policy.gamma() : -1f;
        long rounds0 = rounds, before0 = roundSlotsBefore, after0 = roundSlotsAfter;
        long batchSum = 0;
        int peakBatch = 0, peakUsed = 0;
        TableChanges changes = new TableChanges(maxBatch * layers);
        int admittedNext = scheduler.admit();
        long t0 = System.nanoTime();
        while (!scheduler.idle()) {
            if (scheduler.running().isEmpty()) {
                throw new IllegalStateException("the KV pool of " + pool.blocks() + " blocks cannot admit the next request");
            }
            changes.clear();
            List<BatchSequence> batch = scheduler.prepareStep(changes);
            peakUsed = Math.max(peakUsed, pool.allocator().used());
            step(batch, changes);
            batchSum += batch.size();
            peakBatch = Math.max(peakBatch, batch.size());
            scheduler.advance(record ? chosen(batch.size()) : null);
            int freeBefore = pool.freeBlocks();
            if (policy.prunes()) prune(scheduler.running());
            scheduler.retireFinished();
            int freeAfter = pool.freeBlocks();
            admittedNext = scheduler.admit();
            if (observer != null) observer.afterStep(scheduler.steps(), scheduler.running().size(), scheduler.waiting(), freeBefore, freeAfter, admittedNext);
            if (stop != null && stop.getAsBoolean()) scheduler.stop();
        }
        model.device().synchronize();
        double seconds = (System.nanoTime() - t0) / 1e9;
        long generated = 0, wasted = 0;
        for (List<BatchSequence> done : List.of(scheduler.finished(), scheduler.stopped())) {
            for (BatchSequence s : done) {
                generated += s.generated();
                wasted += s.wastedTokens();
            }
        }
        long r = rounds - rounds0, sb = roundSlotsBefore - before0, sa = roundSlotsAfter - after0;
        return new RunStats(policy.name(), requests.size(), scheduler.steps(), generated, seconds,
                scheduler.steps() == 0 ? 0 : (double) batchSum / scheduler.steps(), peakBatch, peakUsed, scheduler.preemptions(), wasted, r,
                sb == 0 ? 1 : (double) sa / sb, scheduler.stopped().size());
    }

    /** Block-table entries changed while preparing a step: (index, block) pairs. */
    static final class TableChanges implements BatchScheduler.TableSink {
        final int[] index, block;
        int count;

        TableChanges(int capacity) {
            index = new int[capacity];
            block = new int[capacity];
        }

        @Override
        public void set(int i, int b) {
            index[count] = i;
            block[count] = b;
            count++;
        }

        void clear() {
            count = 0;
        }
    }

    /** Queues one decode step for the batch (whose appends the scheduler has made on the host). */
    void step(List<BatchSequence> batch, TableChanges changes) {
        StepProfile p = profile != null && profile.active() ? profile : null;
        timing = p != null && p.begin() ? p : null;
        int n = batch.size();
        Staging st = nextStaging();
        IntBuffer ints = st.ints;
        int[] maxLength = new int[layers];
        for (BatchSequence s : batch) ints.put(s.slot);
        for (BatchSequence s : batch) ints.put(s.fed);
        for (BatchSequence s : batch) ints.put(s.nextInput());
        for (BatchSequence s : batch) {
            for (int l = 0; l < layers; l++) {
                int len = s.blocks.length(l);
                ints.put(len);
                maxLength[l] = Math.max(maxLength[l], len);
            }
        }
        ints.put(changes.index, 0, changes.count);
        ints.put(changes.block, 0, changes.count);
        st.send(meta.pointer(), ints.position());
        if (changes.count > 0) {
            long at = 4L * (3 * n + n * layers);
            k.scatterInts(blockTable.pointer(), meta.at(at), meta.at(at + 4L * changes.count), changes.count);
        }
        mark(StepProfile.Part.UPLOAD);
        float gamma = pool.scores() == null ? -1f : currentGamma;
        if (graphs == null) {
            forward(n, maxLength, gamma);
        } else {
            int[] attentionLengths = new int[layers];
            for (int l = 0; l < layers; l++) attentionLengths[l] = attentionBucket(maxLength[l]);
            if (timing != null) {
                forward(n, attentionLengths, gamma); // events cannot be timed inside a graph: the same launches, one by one
            } else {
                graphs.launch(new StepGraphs.Key(n, gamma, attentionLengths), () -> forward(n, attentionLengths, gamma));
            }
        }
        if (p != null) p.end();
        timing = null;
    }

    /**
     * The length a graph sizes a layer's attention grid for: the longest sequence rounded up to a multiple of
     * {@link #ATTENTION_BUCKET}, never past the context. Blocks past a sequence's own length reduce no slots
     * (the kernels read each sequence's length from the uploaded meta, as they do for a ragged batch), so one
     * graph serves every length in the bucket.
     */
    private int attentionBucket(int maxLength) {
        return Math.min(maxContext, (maxLength + ATTENTION_BUCKET - 1) / ATTENTION_BUCKET * ATTENTION_BUCKET);
    }

    private void mark(StepProfile.Part part) {
        if (timing != null) timing.mark(part);
    }

    /**
     * Queues the step's kernels, from the embedding to the choice of each sequence's next token: device work
     * only, reading the meta uploaded before (so a graph can record it). Each layer's attention grid covers
     * {@code attentionLengths[layer]} slots.
     */
    private void forward(int n, int[] attentionLengths, float gamma) {
        int nPad = BatchKernels.padded(n);
        CUdeviceptr seqSlot = meta.pointer(), positions = meta.at(4L * n), inputs = meta.at(8L * n), lengths = meta.at(12L * n);
        BatchKernels.Paged paged = new BatchKernels.Paged(pool, seqSlot, lengths, blockTable.pointer(), maxBlocks, layers);
        BatchModel.Layer[] ls = model.layers();
        float eps = c.rmsEps();
        k.embedding(model.embedding(), inputs, seqSlot, lastToken.pointer(), x.pointer(), n);
        mark(StepProfile.Part.EMBEDDING_ARGMAX);
        k.residualNorm(null, 0, nPad, x.pointer(), ls[0].attentionNorm().pointer(), xn.pointer(), xn16.pointer(), n, c.dim(), eps);
        mark(StepProfile.Part.RESIDUAL_NORM);
        for (int l = 0; l < layers; l++) {
            BatchModel.Layer lw = ls[l];
            int splits = k.gemm(lw.wqkv(), xn.pointer(), xn16.pointer(), partial.pointer(), n);
            mark(StepProfile.Part.PRODUCTS);
            k.qkvRopeAppend(partial.pointer(), splits, nPad, q.pointer(), paged, positions, l, n, c.heads(), c.kvHeads(), c.headDim(),
                    model.inverseFrequency().pointer(), c.architecture().neoxRope());
            mark(StepProfile.Part.QKV_ROPE_APPEND);
            k.attention(q.pointer(), paged, l, n, attentionLengths[l], c.heads(), c.kvHeads(), c.headDim(), scale, workspace, maxContext,
                    att.pointer(), att16.pointer(), gamma);
            mark(StepProfile.Part.ATTENTION);
            splits = k.gemm(lw.wo(), att.pointer(), att16.pointer(), partial.pointer(), n);
            mark(StepProfile.Part.PRODUCTS);
            k.residualNorm(partial.pointer(), splits, nPad, x.pointer(), lw.ffnNorm().pointer(), xn.pointer(), xn16.pointer(), n, c.dim(), eps);
            mark(StepProfile.Part.RESIDUAL_NORM);
            splits = k.gemm(lw.wGateUp(), xn.pointer(), xn16.pointer(), partial.pointer(), n);
            mark(StepProfile.Part.PRODUCTS);
            k.swigluReduce(partial.pointer(), splits, nPad, c.ffnDim(), h.pointer(), h16.pointer(), n);
            mark(StepProfile.Part.SWIGLU);
            splits = k.gemm(lw.wDown(), h.pointer(), h16.pointer(), partial.pointer(), n);
            mark(StepProfile.Part.PRODUCTS);
            DeviceBuffer nextNorm = l + 1 < layers ? ls[l + 1].attentionNorm() : model.outputNorm();
            k.residualNorm(partial.pointer(), splits, nPad, x.pointer(), nextNorm.pointer(), xn.pointer(), xn16.pointer(), n, c.dim(), eps);
            mark(StepProfile.Part.RESIDUAL_NORM);
        }
        int splits = k.gemm(model.output(), xn.pointer(), xn16.pointer(), partial.pointer(), n);
        if (splits != 1) throw new IllegalStateException("the output product was split " + splits + " ways; the argmax reads one");
        mark(StepProfile.Part.PRODUCTS);
        k.argmaxRows(partial.pointer(), c.vocabularySize(), n, seqSlot, lastToken.pointer(), chosen.pointer());
        mark(StepProfile.Part.EMBEDDING_ARGMAX);
    }

    /** RASR decay of the run in progress, which the attention kernel's score update uses (negative: no scoring). */
    private float currentGamma = -1f;

    /** The tokens the last step chose, in batch order (waits for the step). */
    int[] chosen(int n) {
        int[] out = new int[n];
        chosen.download(out, n);
        return out;
    }

    /** Runs each running sequence's selector over every layer and compacts the layers it prunes. */
    void prune(List<BatchSequence> running) {
        SequenceBlocks.RowMoves moves = new SequenceBlocks.RowMoves();
        for (BatchSequence s : running) {
            if (s.selector == null || !s.promptDone() || s.finished()) continue;
            s.selector.beginStep(s);
            for (int l = 0; l < layers; l++) {
                DeviceLayerView view = new DeviceLayerView(s, l);
                Selection selection = s.selector.select(view, s);
                if (selection.kind() != Selection.Kind.PRUNE) continue;
                rounds++;
                roundSlotsBefore += view.length();
                roundSlotsAfter += selection.keep().length;
                s.blocks.compact(l, selection.keep(), moves, pool.allocator());
            }
        }
        compactor.apply(moves);
    }

    /** One layer's RASR scores of a sequence, copied back from the pool (waits for queued work). */
    float[] scores(BatchSequence s, int layer) {
        int len = s.blocks.length(layer);
        int[] rows = new int[len];
        for (int i = 0; i < len; i++) rows[i] = s.blocks.row(layer, i);
        float[] out = new float[len];
        if (len == 0) return out;
        scoreIndex.upload(rows, len);
        k.moveRows(pool.scores().pointer(), scoreStage.pointer(), scoreIndex.pointer(), null, len, Float.BYTES);
        scoreStage.download(out, 0, len, 0);
        return out;
    }

    /** A layer's keys (which = 0) or values (1) of a sequence, slot order, as f32 (bf16 pools widened): for tests. */
    float[] downloadKv(BatchSequence s, int layer, int which) {
        int len = s.blocks.length(layer), kvDim = c.kvDim();
        int[] rows = new int[len];
        for (int i = 0; i < len; i++) rows[i] = s.blocks.row(layer, i);
        float[] out = new float[len * kvDim];
        if (len == 0) return out;
        scoreIndex.upload(rows, len);
        DeviceBuffer data = which == 0 ? pool.keys() : pool.values();
        try (DeviceBuffer stage = DeviceBuffer.allocate(len * pool.rowBytes())) {
            k.moveRows(data.pointer(), stage.pointer(), scoreIndex.pointer(), null, len, pool.rowBytes());
            byte[] bytes = new byte[(int) stage.bytes()];
            stage.download(bytes);
            return HostWeights.decode(bytes, pool.type(), len * kvDim);
        }
    }

    /** What a lethe-cache selector sees of one layer: lengths and positions from the host, scores from the device on demand. */
    private final class DeviceLayerView implements LayerView {
        private final BatchSequence s;
        private final int layer;
        private float[] scores;

        DeviceLayerView(BatchSequence s, int layer) {
            this.s = s;
            this.layer = layer;
        }

        @Override
        public int layer() {
            return layer;
        }

        @Override
        public KvLayout layout() {
            return new KvLayout(layers, c.kvHeads(), c.headDim());
        }

        @Override
        public int length() {
            return s.blocks.length(layer);
        }

        @Override
        public int fullLength() {
            return s.fed;
        }

        @Override
        public int position(int slot) {
            return s.blocks.position(layer, slot);
        }

        @Override
        public float[] scores() {
            if (scores == null) scores = BatchDecoder.this.scores(s, layer);
            return scores;
        }

        @Override
        public MemorySegment keys() {
            throw new UnsupportedOperationException("batched decoding keeps keys on the device; this policy cannot read them");
        }

        @Override
        public MemorySegment values() {
            throw new UnsupportedOperationException("batched decoding keeps values on the device; this policy cannot read them");
        }
    }

    private Staging nextStaging() {
        Staging st = staging[nextStaging];
        nextStaging = (nextStaging + 1) % STAGING_RING;
        st.reuse();
        return st;
    }

    /** Pinned host memory for one asynchronous upload; reused once the copy it last fed has completed. */
    private static final class Staging implements AutoCloseable {
        private final Pointer host = new Pointer();
        private final IntBuffer ints;
        private final CUevent done = new CUevent();
        private final CUstream stream;
        private boolean pending;

        Staging(int capacity, CUstream stream) {
            this.stream = stream;
            cuMemAllocHost(host, (long) capacity * Integer.BYTES);
            ints = host.getByteBuffer(0, (long) capacity * Integer.BYTES).order(ByteOrder.nativeOrder()).asIntBuffer();
            cuEventCreate(done, 0);
        }

        void reuse() {
            if (pending) cuEventSynchronize(done);
            pending = false;
            ints.clear();
        }

        void send(CUdeviceptr target, int count) {
            cuMemcpyHtoDAsync(target, host, (long) count * Integer.BYTES, stream);
            cuEventRecord(done, stream);
            pending = true;
        }

        @Override
        public void close() {
            if (pending) cuEventSynchronize(done);
            cuEventDestroy(done);
            cuMemFreeHost(host);
        }
    }

    @Override
    public void close() {
        model.device().synchronize();
        for (Staging s : staging) if (s != null) s.close();
        if (graphs != null) graphs.close();
        compactor.close();
        owned.forEach(DeviceBuffer::close);
    }
}
