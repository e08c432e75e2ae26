package dev.lethe.cache;

import dev.lethe.cache.policy.EvictionPolicy;
import dev.lethe.cache.policy.LayerView;
import dev.lethe.cache.policy.SequenceView;
import dev.lethe.cache.policy.Selection;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The CPU KV cache of one sequence: per layer, contiguous off-heap keys and values whose memory is reserved
 * in a shared {@link KvBlockPool}, pruned at the end of each step by an {@link EvictionPolicy}.
 *
 * <p>Why contiguous per-layer buffers rather than scattered pages: the engine's attention kernel reads a
 * layer's keys as one slot-major array, and every Lethe round compacts the survivors to slots
 * {@code 0..len-1} anyway (a full pass over the layer), so reallocating to the survivors' size during that pass
 * costs nothing extra and returns the freed blocks to the pool exactly. Growth is geometric (×1.5), so
 * appends stay amortised O(1). The GPU backend, which needs physically paged memory shared by a batch,
 * pages for real; here the pool's block accounting is what admission relies on.
 *
 * <p>Not thread-safe: one sequence is driven by one thread at a time (the engine may read {@link #keys} and
 * {@link #values} from many threads between calls; the buffers live in shared arenas).
 */
public final class OffHeapKvCache implements KvCache {
    private final KvLayout layout;
    private final KvBlockPool pool;
    private final EvictionPolicy policy;
    private final LayerStore[] layers;
    private final List<KvCacheListener> listeners = new CopyOnWriteArrayList<>();
    private final long[] rounds;
    private final long[] deferred;
    private final double[] hoyer;
    private final SequenceView sequenceView = new Sequence();

    private float[] relevance = new float[0];
    private long step;
    private int promptLength = -1;
    private int appendedThisStep;
    private double retainedFractionSum;
    private long retainedSamples;
    private boolean closed;

    OffHeapKvCache(KvLayout layout, EvictionPolicy policy, KvBlockPool pool) {
        this.layout = Objects.requireNonNull(layout, "layout");
        this.policy = Objects.requireNonNull(policy, "policy");
        this.pool = Objects.requireNonNull(pool, "pool");
        if (!pool.layout().equals(layout)) {
            throw new IllegalArgumentException("pool is for layout " + pool.layout() + ", cache for " + layout);
        }
        int n = layout.layers();
        this.layers = new LayerStore[n];
        for (int l = 0; l < n; l++) layers[l] = new LayerStore(l, layout, pool, policy.scorer().width());
        this.rounds = new long[n];
        this.deferred = new long[n];
        this.hoyer = new double[n];
    }

    @Override
    public KvLayout layout() {
        return layout;
    }

    public EvictionPolicy policy() {
        return policy;
    }

    public KvBlockPool pool() {
        return pool;
    }

    @Override
    public int length(int layer) {
        return layer(layer).length();
    }

    /** Tokens ever appended to this layer: what a full cache would hold. */
    public int fullLength(int layer) {
        return layer(layer).fullLength();
    }

    /** The last position appended to this layer (-1 before any), retained or not. */
    public int lastPosition(int layer) {
        return layer(layer).lastPosition();
    }

    @Override
    public int position(int layer, int slot) {
        return layer(layer).position(slot);
    }

    /** The policy's view of a layer (positions, per-slot scores, keys, values). */
    public LayerView layerView(int layer) {
        return layer(layer);
    }

    @Override
    public int append(int layer, int position, float[] key, int keyOffset, float[] value, int valueOffset) {
        int slot = layer(layer).append(position, key, keyOffset, value, valueOffset);
        if (layer == 0) appendedThisStep++;
        return slot;
    }

    @Override
    public MemorySegment keys(int layer) {
        return layer(layer).keys();
    }

    @Override
    public MemorySegment values(int layer) {
        return layer(layer).values();
    }

    @Override
    public void observeAttention(int layer, float[] probabilities, int queries, int queryHeads) {
        LayerStore store = layer(layer);
        int n = store.length();
        if (queries <= 0) throw new IllegalArgumentException("queries must be positive, got " + queries);
        if (queryHeads <= 0) throw new IllegalArgumentException("queryHeads must be positive, got " + queryHeads);
        long needed = (long) queries * queryHeads * n;
        if (probabilities.length < needed) {
            throw new IllegalArgumentException("layer " + layer + ": " + queries + " queries x " + queryHeads
                    + " heads x " + n + " slots need " + needed + " probabilities, got " + probabilities.length);
        }
        if (relevance.length < n) relevance = new float[Math.max(n, relevance.length * 3 / 2)];
        java.util.Arrays.fill(relevance, 0, n, 0f);
        for (int row = 0, rows = queries * queryHeads; row < rows; row++) {
            int base = row * n;
            for (int j = 0; j < n; j++) relevance[j] += probabilities[base + j];
        }
        hoyer[layer] = Hoyer.sparsity(relevance, n);
        policy.scorer().observe(store, probabilities, queries, queryHeads, relevance);
    }

    @Override
    public void declarePromptLength(int tokens) {
        ensureOpen();
        if (tokens < 0) throw new IllegalArgumentException("prompt length must not be negative, got " + tokens);
        if (step > 0) throw new IllegalStateException("prompt length must be declared before the first step ends");
        promptLength = tokens;
    }

    /** The prompt length (declared, or learned at the end of the first step); -1 before. */
    public int promptLength() {
        return promptLength;
    }

    /** Steps ended so far. */
    public long step() {
        return step;
    }

    @Override
    public void endStep() {
        ensureOpen();
        if (promptLength < 0) promptLength = appendedThisStep;
        appendedThisStep = 0;
        // No policy prunes before the whole declared prompt is in: a chunked prefill would otherwise let a
        // fixed-budget policy evict the first chunks of the prompt before the later ones were computed (the
        // papers' methods compress after the prefill), and the result would depend on the chunk size.
        boolean prefilling = layers.length > 0 && layers[0].fullLength() < promptLength;
        if (!prefilling) runRounds();
        for (LayerStore store : layers) {
            if (store.fullLength() > 0) {
                retainedFractionSum += (double) store.length() / store.fullLength();
                retainedSamples++;
            }
            for (var listener : listeners) listener.stepEnded(step, store.layer(), store.length(), store.fullLength());
        }
        step++;
    }

    private void runRounds() {
        var selector = policy.selector();
        selector.beginStep(sequenceView);
        for (LayerStore store : layers) {
            int l = store.layer();
            Selection selection = selector.select(store, sequenceView);
            switch (selection.kind()) {
                case NONE -> {
                }
                case DEFERRED -> {
                    deferred[l]++;
                    for (var listener : listeners) listener.roundDeferred(step, l, store.length());
                }
                case PRUNE -> {
                    int before = store.length();
                    store.compact(selection.keep());
                    rounds[l]++;
                    for (var listener : listeners) listener.roundRun(step, l, before, store.length());
                }
            }
        }
    }

    /** Bytes reserved for this sequence's keys and values (whole pool blocks, all layers). */
    @Override
    public long bytesHeld() {
        long total = 0;
        for (LayerStore store : layers) total += store.bytesHeld();
        return total;
    }

    /** Bytes reserved for one layer. */
    public long bytesHeld(int layer) {
        return layer(layer).bytesHeld();
    }

    /** Bytes of key and value data of the retained tokens (without the blocks' unused tail). */
    public long bytesRetained() {
        long tokens = 0;
        for (LayerStore store : layers) tokens += store.length();
        return tokens * layout.bytesPerTokenPerLayer();
    }

    public long roundsRun(int layer) {
        layer(layer);
        return rounds[layer];
    }

    public long roundsDeferred(int layer) {
        layer(layer);
        return deferred[layer];
    }

    /** Hoyer sparsity of the layer's latest observed attention (summed over heads and queries). */
    public double hoyerSparsity(int layer) {
        layer(layer);
        return hoyer[layer];
    }

    public KvCacheStats stats() {
        int n = layers.length;
        int[] retained = new int[n];
        int[] full = new int[n];
        for (int l = 0; l < n; l++) {
            retained[l] = layers[l].length();
            full[l] = layers[l].fullLength();
        }
        return new KvCacheStats(step, promptLength, retained, full, rounds, deferred, hoyer,
                retainedFractionSum, retainedSamples);
    }

    public void addListener(KvCacheListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    public void removeListener(KvCacheListener listener) {
        listeners.remove(listener);
    }

    /** True between steps: nothing appended since the last {@link #endStep} (a checkpoint is taken only then). */
    public boolean betweenSteps() {
        return appendedThisStep == 0;
    }

    /**
     * For the checkpoint codec: fills an empty layer with restored slots and returns its view, whose keys,
     * values and scores the caller then fills.
     */
    public LayerView restoreLayer(int layer, int[] positions, int fullLength, int lastPosition) {
        ensureOpen();
        if (step != 0) throw new IllegalStateException("only a fresh cache can be restored");
        LayerStore store = layer(layer);
        store.restore(positions, fullLength, lastPosition);
        return store;
    }

    /** For the checkpoint codec: restores the bookkeeping of a fresh cache (the retained lengths must match). */
    public void restoreStats(KvCacheStats stats) {
        ensureOpen();
        if (step != 0) throw new IllegalStateException("only a fresh cache can be restored");
        if (stats.retained().length != layers.length) {
            throw new IllegalArgumentException("stats for " + stats.retained().length + " layers, cache has " + layers.length);
        }
        for (int l = 0; l < layers.length; l++) {
            if (stats.retained()[l] != layers[l].length() || stats.fullLengths()[l] != layers[l].fullLength()) {
                throw new IllegalArgumentException("layer " + l + ": stats say " + stats.retained()[l] + "/"
                        + stats.fullLengths()[l] + " tokens, the restored layer holds " + layers[l].length() + "/"
                        + layers[l].fullLength());
            }
            rounds[l] = stats.rounds()[l];
            deferred[l] = stats.deferred()[l];
            hoyer[l] = stats.hoyer()[l];
        }
        step = stats.step();
        promptLength = stats.promptLength();
        retainedFractionSum = stats.retainedFractionSum();
        retainedSamples = stats.retainedSamples();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (LayerStore store : layers) store.close();
    }

    private LayerStore layer(int layer) {
        ensureOpen();
        if (layer < 0 || layer >= layers.length) {
            throw new IndexOutOfBoundsException("layer " + layer + " outside 0.." + (layers.length - 1));
        }
        return layers[layer];
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("KV cache is closed");
    }

    private final class Sequence implements SequenceView {
        @Override
        public long step() {
            return step;
        }

        @Override
        public int promptLength() {
            return promptLength;
        }

        @Override
        public int layers() {
            return layers.length;
        }

        @Override
        public long retainedTokens() {
            long total = 0;
            for (LayerStore store : layers) total += store.length();
            return total;
        }
    }
}
