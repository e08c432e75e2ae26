package dev.lethe.engine.gpu;

import dev.lethe.cache.KvCache;
import dev.lethe.cache.KvLayout;
import dev.lethe.engine.model.ContextOverflowException;
import dev.lethe.engine.model.Decoder;
import dev.lethe.engine.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdeviceptr;

/**
 * One sequence decoded on the GPU: the same forward pass as the CPU's {@link dev.lethe.engine.model.Sequence},
 * kernel by kernel, with its keys and values in a {@link DeviceKvCache}.
 *
 * <p>With a host {@link KvCache} (the policy's cache), each step also hands that cache what the CPU engine
 * would: the new rotated keys and values, and every layer's attention probabilities (copied back from the
 * attention kernel, which writes them anyway); after {@link KvCache#endStep} the survivors of any pruning
 * round are compacted on the device too, so both caches hold the same positions. Without one
 * ({@link #deviceOnly}) nothing but the logits (or the argmax) crosses the bus: a full cache.
 */
public final class GpuSequence implements Decoder {
    /** Prompt tokens processed per forward pass while prefilling (as on the CPU). */
    public static final int PREFILL_CHUNK = 16;

    private final GpuModel model;
    private final ModelConfig c;
    private final Kernels kernels;
    private final KvCache hostCache;
    private final DeviceKvCache kv;
    private final float scale;
    private int position;

    private final DeviceBuffer tokens, x, xb, q, k, v, attnOut, gate, up, projected, hidden, logits, probabilities, attentionWorkspace, choice;
    private final List<DeviceBuffer> scratch = new ArrayList<>();
    private final float[] hostLogits;
    private float[] hostKeys = new float[0], hostValues = new float[0], hostProbabilities = new float[0];
    private final int[] hostTokens = new int[PREFILL_CHUNK];

    private GpuSequence(GpuModel model, KvCache hostCache, int capacity) {
        this.model = model;
        this.c = model.config();
        this.kernels = model.device().kernels();
        this.hostCache = hostCache;
        KvLayout layout = new KvLayout(c.layers(), c.kvHeads(), c.headDim());
        if (hostCache != null && !hostCache.layout().equals(layout)) {
            throw new IllegalArgumentException("KV cache layout " + hostCache.layout() + " does not match the model's " + layout);
        }
        this.kv = new DeviceKvCache(model.device(), layout, capacity);
        this.scale = (float) (1.0 / Math.sqrt(c.headDim()));
        int n = PREFILL_CHUNK;
        tokens = buffer((long) n * Integer.BYTES);
        x = floats((long) n * c.dim());
        xb = floats((long) n * c.dim());
        q = floats((long) n * c.qDim());
        k = floats((long) n * c.kvDim());
        v = floats((long) n * c.kvDim());
        attnOut = floats((long) n * c.qDim());
        gate = floats((long) n * c.ffnDim());
        up = floats((long) n * c.ffnDim());
        projected = floats((long) n * Math.max(c.dim(), c.qDim()));
        hidden = floats(c.dim());
        logits = floats(c.vocabularySize());
        probabilities = floats((long) n * c.heads() * capacity);
        attentionWorkspace = buffer(Kernels.attentionWorkspaceBytes(n, c.heads(), c.headDim()));
        choice = buffer(Integer.BYTES);
        hostLogits = new float[c.vocabularySize()];
    }

    /**
     * A sequence whose pruning is decided by {@code cache} (which it then owns and closes), with room on the
     * device for the model's whole context.
     */
    public static GpuSequence mirroring(GpuModel model, KvCache cache) {
        return new GpuSequence(model, cache, model.config().contextLength());
    }

    /** A sequence with a full cache of {@code capacity} slots per layer on the device and no host cache. */
    public static GpuSequence deviceOnly(GpuModel model, int capacity) {
        return new GpuSequence(model, null, capacity);
    }

    private DeviceBuffer buffer(long bytes) {
        DeviceBuffer b = DeviceBuffer.allocate(bytes);
        scratch.add(b);
        return b;
    }

    private DeviceBuffer floats(long count) {
        return buffer(count * Float.BYTES);
    }

    @Override
    public int position() {
        return position;
    }

    @Override
    public int contextLength() {
        return Math.min(c.contextLength(), kv.capacity());
    }

    /** The host cache that decides pruning, or null for a device-only sequence. */
    @Override
    public KvCache cache() {
        return hostCache;
    }

    @Override
    public float[] logits() {
        return hostLogits;
    }

    /** Bytes of KV data held on the device (all layers). */
    public long deviceKvBytes() {
        return kv.bytesHeld();
    }

    @Override
    public float[] forward(int token) {
        hostTokens[0] = token;
        run(hostTokens, 0, 1);
        logits.download(hostLogits, 0, hostLogits.length, 0);
        return hostLogits;
    }

    /** Feeds one token and returns the likeliest next one, chosen on the device (4 bytes come back, not the logits). */
    public int forwardGreedy(int token) {
        hostTokens[0] = token;
        run(hostTokens, 0, 1);
        kernels.argmax(logits.pointer(), c.vocabularySize(), choice.pointer());
        int[] out = new int[1];
        choice.download(out, 1);
        return out[0];
    }

    @Override
    public float[] prefill(int[] prompt) {
        if (prompt.length == 0) throw new IllegalArgumentException("nothing to prefill");
        for (int start = 0; start < prompt.length; start += PREFILL_CHUNK) {
            run(prompt, start, Math.min(PREFILL_CHUNK, prompt.length - start));
        }
        logits.download(hostLogits, 0, hostLogits.length, 0);
        return hostLogits;
    }

    /** The forward pass over tokens[start..start+n), leaving the last token's logits in {@link #logits}. */
    private void run(int[] input, int start, int n) {
        if (position + n > contextLength()) throw new ContextOverflowException(position + n, contextLength());
        for (int t = 0; t < n; t++) {
            int token = input[start + t];
            if (token < 0 || token >= c.vocabularySize()) {
                throw new IllegalArgumentException("token id " + token + " is outside the vocabulary (size " + c.vocabularySize() + ")");
            }
        }
        int[] chunk = new int[n];
        System.arraycopy(input, start, chunk, 0, n);
        tokens.upload(chunk, n);
        kernels.embedding(model.embedding(), tokens.pointer(), x.pointer(), n);
        GpuLayer[] layers = model.layers();
        for (int l = 0; l < layers.length; l++) layer(l, layers[l], n);
        kernels.rmsNorm(x.at((long) (n - 1) * c.dim() * Float.BYTES), hidden.pointer(), model.outputNorm().pointer(), 1, c.dim(), c.rmsEps());
        kernels.matVec(model.output(), hidden.pointer(), logits.pointer(), 1);
        position += n;
        if (hostCache != null) {
            hostCache.endStep();
            applyPruning();
        }
    }

    private void layer(int l, GpuLayer lw, int n) {
        int dim = c.dim(), hd = c.headDim();
        kernels.rmsNorm(x.pointer(), xb.pointer(), lw.attentionNorm().pointer(), n, dim, c.rmsEps());
        kernels.matVec(lw.wq(), xb.pointer(), q.pointer(), n);
        kernels.matVec(lw.wk(), xb.pointer(), k.pointer(), n);
        kernels.matVec(lw.wv(), xb.pointer(), v.pointer(), n);
        if (lw.qBias() != null) {
            kernels.addBias(q.pointer(), lw.qBias().pointer(), c.qDim(), (long) n * c.qDim());
            kernels.addBias(k.pointer(), lw.kBias().pointer(), c.kvDim(), (long) n * c.kvDim());
            kernels.addBias(v.pointer(), lw.vBias().pointer(), c.kvDim(), (long) n * c.kvDim());
        }
        if (lw.qNorm() != null) {
            kernels.rmsNorm(q.pointer(), q.pointer(), lw.qNorm().pointer(), n * c.heads(), hd, c.rmsEps());
            kernels.rmsNorm(k.pointer(), k.pointer(), lw.kNorm().pointer(), n * c.kvHeads(), hd, c.rmsEps());
        }
        boolean neox = c.architecture().neoxRope();
        CUdeviceptr frequencies = model.inverseFrequency().pointer();
        kernels.rope(q.pointer(), n, c.heads(), c.qDim(), hd, position, frequencies, neox);
        kernels.rope(k.pointer(), n, c.kvHeads(), c.kvDim(), hd, position, frequencies, neox);
        kv.append(l, position, k, v, n);
        if (hostCache != null) appendToHost(l, n);

        int length = kv.length(l);
        kernels.attention(q.pointer(), kv.keys(l).pointer(), kv.values(l).pointer(), probabilities.pointer(), attnOut.pointer(),
                attentionWorkspace, n, c.heads(), c.kvHeads(), hd, length, scale);
        if (hostCache != null) observeOnHost(l, n, length);
        kernels.matVec(lw.wo(), attnOut.pointer(), projected.pointer(), n);
        kernels.add(x.pointer(), projected.pointer(), (long) n * dim);

        kernels.rmsNorm(x.pointer(), xb.pointer(), lw.ffnNorm().pointer(), n, dim, c.rmsEps());
        kernels.matVec(lw.wGate(), xb.pointer(), gate.pointer(), n);
        kernels.matVec(lw.wUp(), xb.pointer(), up.pointer(), n);
        kernels.swiglu(gate.pointer(), up.pointer(), (long) n * c.ffnDim());
        kernels.matVec(lw.wDown(), gate.pointer(), projected.pointer(), n);
        kernels.add(x.pointer(), projected.pointer(), (long) n * dim);
    }

    private void appendToHost(int l, int n) {
        int count = n * c.kvDim();
        if (hostKeys.length < count) {
            hostKeys = new float[count];
            hostValues = new float[count];
        }
        k.download(hostKeys, 0, count, 0);
        v.download(hostValues, 0, count, 0);
        for (int t = 0; t < n; t++) {
            hostCache.append(l, position + t, hostKeys, t * c.kvDim(), hostValues, t * c.kvDim());
        }
        if (hostCache.length(l) != kv.length(l)) {
            throw new IllegalStateException("layer " + l + ": the host cache holds " + hostCache.length(l)
                    + " slots, the device " + kv.length(l));
        }
    }

    private void observeOnHost(int l, int n, int length) {
        int count = n * c.heads() * length;
        if (hostProbabilities.length < count) hostProbabilities = new float[Math.max(count, hostProbabilities.length * 3 / 2)];
        probabilities.download(hostProbabilities, 0, count, 0);
        hostCache.observeAttention(l, hostProbabilities, n, c.heads());
    }

    /** Makes the device hold the positions the host cache kept in each layer. */
    private void applyPruning() {
        for (int l = 0; l < c.layers(); l++) {
            int kept = hostCache.length(l);
            if (kept == kv.length(l)) continue;
            int[] positions = new int[kept];
            for (int s = 0; s < kept; s++) positions[s] = hostCache.position(l, s);
            kv.retain(l, positions, kept);
        }
    }

    /** Keys (which = 0) or values (1) of one layer's first {@code length} slots, copied back: for tests. */
    public float[] downloadKv(int layer, int which) {
        int length = kv.length(layer);
        float[] out = new float[length * c.kvDim()];
        if (length > 0) (which == 0 ? kv.keys(layer) : kv.values(layer)).download(out, 0, out.length, 0);
        return out;
    }

    @Override
    public void close() {
        model.device().synchronize();
        scratch.forEach(DeviceBuffer::close);
        kv.close();
        if (hostCache != null) hostCache.close();
    }
}
