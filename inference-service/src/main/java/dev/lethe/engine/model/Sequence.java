package dev.lethe.engine.model;

import dev.lethe.cache.KvCache;
import dev.lethe.engine.tensor.MatVec;

/**
 * One sequence being decoded: its KV cache, its next position and the scratch buffers of the forward pass.
 * The forward pass reads top to bottom like llama2.c's, over a chunk of {@code n} tokens at once (prefill
 * chunks share each weight row; decode is a chunk of one). Not thread-safe: one sequence, one caller.
 */
public final class Sequence implements Decoder {
    /** Prompt tokens processed per forward pass while prefilling. */
    public static final int PREFILL_CHUNK = 16;

    private final Model model;
    private final ModelConfig c;
    private final ModelWeights w;
    private final KvCache cache;
    private final Attention attention;
    private int position;

    // Scratch, [chunk][width] row-major.
    private final float[] x;
    private final float[] xb;
    private final float[] q;
    private final float[] k;
    private final float[] v;
    private final float[] attnOut;
    private final float[] gate;
    private final float[] up;
    private final float[] projected;
    private final float[] cos; // [chunk][headDim/2] rotation angles of each token
    private final float[] sin;
    private final float[] lastHidden;
    private final float[] logits;

    Sequence(Model model, KvCache cache) {
        this.model = model;
        this.c = model.config();
        this.w = model.weights();
        this.cache = cache;
        this.attention = new Attention(c, cache);
        int n = PREFILL_CHUNK;
        x = new float[n * c.dim()];
        xb = new float[n * c.dim()];
        q = new float[n * c.qDim()];
        k = new float[n * c.kvDim()];
        v = new float[n * c.kvDim()];
        attnOut = new float[n * c.qDim()];
        gate = new float[n * c.ffnDim()];
        up = new float[n * c.ffnDim()];
        projected = new float[n * Math.max(c.dim(), c.qDim())];
        cos = new float[n * c.headDim() / 2];
        sin = new float[n * c.headDim() / 2];
        lastHidden = new float[c.dim()];
        logits = new float[c.vocabularySize()];
    }

    public Model model() {
        return model;
    }

    public KvCache cache() {
        return cache;
    }

    /** Position the next token will take (the number of tokens fed so far). */
    @Override
    public int position() {
        return position;
    }

    @Override
    public int contextLength() {
        return c.contextLength();
    }

    /**
     * Feeds one token at the next position and returns the logits for the token after it. The returned
     * array is reused by the next call.
     */
    @Override
    public float[] forward(int token) {
        return forward(new int[] {token}, 0, 1);
    }

    /** Feeds all tokens (chunk by chunk) and returns the logits after the last one. */
    @Override
    public float[] prefill(int[] tokens) {
        if (tokens.length == 0) throw new IllegalArgumentException("nothing to prefill");
        for (int start = 0; start < tokens.length; start += PREFILL_CHUNK) {
            forward(tokens, start, Math.min(PREFILL_CHUNK, tokens.length - start));
        }
        return logits;
    }

    private float[] forward(int[] tokens, int start, int n) {
        if (position + n > c.contextLength()) {
            throw new ContextOverflowException(position + n, c.contextLength());
        }
        int dim = c.dim();
        for (int t = 0; t < n; t++) {
            int token = tokens[start + t];
            if (token < 0 || token >= c.vocabularySize()) {
                throw new IllegalArgumentException("token id " + token + " is outside the vocabulary (size " + c.vocabularySize() + ")");
            }
            w.tokenEmbedding().copyTo((long) token * dim, x, t * dim, dim);
            model.rope().angles(position + t, cos, sin, t * c.headDim() / 2);
        }
        for (int l = 0; l < c.layers(); l++) {
            layer(l, w.layers()[l], n);
        }
        rmsNorm(x, (n - 1) * dim, w.outputNorm(), lastHidden, 0, dim);
        MatVec.multiply(w.output(), c.vocabularySize(), dim, lastHidden, logits, 1);
        position += n;
        cache.endStep();
        return logits;
    }

    private void layer(int l, LayerWeights lw, int n) {
        int dim = c.dim();
        int hd = c.headDim();
        for (int t = 0; t < n; t++) rmsNorm(x, t * dim, lw.attentionNorm(), xb, t * dim, dim);
        MatVec.multiply(lw.wq(), c.qDim(), dim, xb, q, n);
        MatVec.multiply(lw.wk(), c.kvDim(), dim, xb, k, n);
        MatVec.multiply(lw.wv(), c.kvDim(), dim, xb, v, n);
        for (int t = 0; t < n; t++) {
            if (lw.qBias() != null) {
                addInPlace(q, t * c.qDim(), lw.qBias());
                addInPlace(k, t * c.kvDim(), lw.kBias());
                addInPlace(v, t * c.kvDim(), lw.vBias());
            }
            if (lw.qNorm() != null) {
                for (int h = 0; h < c.heads(); h++) rmsNorm(q, t * c.qDim() + h * hd, lw.qNorm(), q, t * c.qDim() + h * hd, hd);
                for (int h = 0; h < c.kvHeads(); h++) rmsNorm(k, t * c.kvDim() + h * hd, lw.kNorm(), k, t * c.kvDim() + h * hd, hd);
            }
            model.rope().rotate(q, t * c.qDim(), c.heads(), cos, sin, t * c.headDim() / 2);
            model.rope().rotate(k, t * c.kvDim(), c.kvHeads(), cos, sin, t * c.headDim() / 2);
            cache.append(l, position + t, k, t * c.kvDim(), v, t * c.kvDim());
        }
        attention.run(l, q, position, n, attnOut);
        MatVec.multiply(lw.wo(), dim, c.qDim(), attnOut, projected, n);
        addInPlace(x, projected, n * dim);

        for (int t = 0; t < n; t++) rmsNorm(x, t * dim, lw.ffnNorm(), xb, t * dim, dim);
        MatVec.multiply(lw.wGate(), c.ffnDim(), dim, xb, gate, n);
        MatVec.multiply(lw.wUp(), c.ffnDim(), dim, xb, up, n);
        for (int i = 0; i < n * c.ffnDim(); i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i]; // SwiGLU
        }
        MatVec.multiply(lw.wDown(), dim, c.ffnDim(), gate, projected, n);
        addInPlace(x, projected, n * dim);
    }

    private void rmsNorm(float[] in, int inOffset, float[] weight, float[] out, int outOffset, int size) {
        double ss = 0;
        for (int i = 0; i < size; i++) ss += in[inOffset + i] * in[inOffset + i];
        float scale = (float) (1.0 / Math.sqrt(ss / size + c.rmsEps()));
        for (int i = 0; i < size; i++) out[outOffset + i] = weight[i] * (scale * in[inOffset + i]);
    }

    private static void addInPlace(float[] x, int offset, float[] bias) {
        for (int i = 0; i < bias.length; i++) x[offset + i] += bias[i];
    }

    private static void addInPlace(float[] x, float[] delta, int n) {
        for (int i = 0; i < n; i++) x[i] += delta[i];
    }

    @Override
    public void close() {
        cache.close();
    }
}
