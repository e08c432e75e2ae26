package dev.lethe.engine.model;

import dev.lethe.engine.tensor.MatVec;
import java.util.List;

/**
 * The transformer forward pass, read top to bottom like llama2.c's, over a batch of rows: each row is one
 * token of one sequence. Rows come in groups, one group per sequence (a prefill chunk is one group of many
 * rows; a batched decode step is many groups of one row), so every weight row is read once per batch and
 * used for all of them, which is what makes batching pay on memory-bound hardware. Attention runs per group
 * over that sequence's own cache. Holds the scratch buffers: one pass, one thread at a time.
 */
public final class ForwardPass {
    private final Model model;
    private final ModelConfig c;
    private final ModelWeights w;
    private final int maxRows;

    // Scratch, [row][width] row-major.
    private final float[] x;
    private final float[] xb;
    private final float[] q;
    private final float[] k;
    private final float[] v;
    private final float[] attnOut;
    private final float[] gate;
    private final float[] up;
    private final float[] projected;
    private final float[] cos; // [row][headDim/2] rotation angles of each row's position
    private final float[] sin;
    private final float[] lastHidden; // [group][dim]
    private final float[] logits; // [group][vocab]

    public ForwardPass(Model model, int maxRows) {
        if (maxRows <= 0) throw new IllegalArgumentException("a forward pass needs room for at least one row");
        this.model = model;
        this.c = model.config();
        this.w = model.weights();
        this.maxRows = maxRows;
        int n = maxRows;
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
        lastHidden = new float[n * c.dim()];
        logits = new float[n * c.vocabularySize()];
    }

    public int maxRows() {
        return maxRows;
    }

    /** One decode step for several sequences at once: sequence {@code i} is fed {@code tokens[i]}. */
    public void decode(List<Sequence> sequences, int[] tokens) {
        int[] counts = new int[sequences.size()];
        java.util.Arrays.fill(counts, 1);
        run(sequences.toArray(Sequence[]::new), tokens, 0, counts);
    }

    /**
     * Feeds group {@code g} (the next {@code counts[g]} tokens of {@code tokens}, from {@code from}) to
     * {@code sequences[g]}; each sequence's {@link Sequence#logits()} then holds the logits after its last token.
     */
    void run(Sequence[] sequences, int[] tokens, int from, int[] counts) {
        int rows = 0;
        for (int n : counts) rows += n;
        if (rows > maxRows) throw new IllegalArgumentException(rows + " rows exceed this pass's " + maxRows);
        int dim = c.dim();
        int half = c.headDim() / 2;
        int row = 0;
        for (int g = 0; g < sequences.length; g++) {
            Sequence s = sequences[g];
            if (s.model() != model) throw new IllegalArgumentException("sequence " + g + " belongs to another model");
            if (s.position() + counts[g] > c.contextLength()) throw new ContextOverflowException(s.position() + counts[g], c.contextLength());
            for (int t = 0; t < counts[g]; t++, row++) {
                int token = tokens[from + row];
                if (token < 0 || token >= c.vocabularySize()) {
                    throw new IllegalArgumentException("token id " + token + " is outside the vocabulary (size " + c.vocabularySize() + ")");
                }
                w.tokenEmbedding().copyTo((long) token * dim, x, row * dim, dim);
                model.rope().angles(s.position() + t, cos, sin, row * half);
            }
        }
        for (int l = 0; l < c.layers(); l++) layer(l, w.layers()[l], sequences, counts, rows);
        row = 0;
        for (int g = 0; g < sequences.length; g++) {
            row += counts[g];
            rmsNorm(x, (row - 1) * dim, w.outputNorm(), lastHidden, g * dim, dim);
        }
        MatVec.multiply(w.output(), c.vocabularySize(), dim, lastHidden, logits, sequences.length);
        for (int g = 0; g < sequences.length; g++) {
            Sequence s = sequences[g];
            System.arraycopy(logits, g * c.vocabularySize(), s.logits(), 0, c.vocabularySize());
            s.advance(counts[g]);
        }
    }

    private void layer(int l, LayerWeights lw, Sequence[] sequences, int[] counts, int rows) {
        int dim = c.dim();
        int hd = c.headDim();
        int half = hd / 2;
        for (int r = 0; r < rows; r++) rmsNorm(x, r * dim, lw.attentionNorm(), xb, r * dim, dim);
        MatVec.multiply(lw.wq(), c.qDim(), dim, xb, q, rows);
        MatVec.multiply(lw.wk(), c.kvDim(), dim, xb, k, rows);
        MatVec.multiply(lw.wv(), c.kvDim(), dim, xb, v, rows);
        int row = 0;
        for (int g = 0; g < sequences.length; g++) {
            Sequence s = sequences[g];
            for (int t = 0; t < counts[g]; t++, row++) {
                if (lw.qBias() != null) {
                    addInPlace(q, row * c.qDim(), lw.qBias());
                    addInPlace(k, row * c.kvDim(), lw.kBias());
                    addInPlace(v, row * c.kvDim(), lw.vBias());
                }
                if (lw.qNorm() != null) {
                    for (int h = 0; h < c.heads(); h++) rmsNorm(q, row * c.qDim() + h * hd, lw.qNorm(), q, row * c.qDim() + h * hd, hd);
                    for (int h = 0; h < c.kvHeads(); h++) rmsNorm(k, row * c.kvDim() + h * hd, lw.kNorm(), k, row * c.kvDim() + h * hd, hd);
                }
                model.rope().rotate(q, row * c.qDim(), c.heads(), cos, sin, row * half);
                model.rope().rotate(k, row * c.kvDim(), c.kvHeads(), cos, sin, row * half);
                s.cache().append(l, s.position() + t, k, row * c.kvDim(), v, row * c.kvDim());
            }
            s.attention().run(l, q, row - counts[g], counts[g], attnOut);
        }
        MatVec.multiply(lw.wo(), dim, c.qDim(), attnOut, projected, rows);
        addInPlace(x, projected, rows * dim);

        for (int r = 0; r < rows; r++) rmsNorm(x, r * dim, lw.ffnNorm(), xb, r * dim, dim);
        MatVec.multiply(lw.wGate(), c.ffnDim(), dim, xb, gate, rows);
        MatVec.multiply(lw.wUp(), c.ffnDim(), dim, xb, up, rows);
        for (int i = 0; i < rows * c.ffnDim(); i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i]; // SwiGLU
        }
        MatVec.multiply(lw.wDown(), dim, c.ffnDim(), gate, projected, rows);
        addInPlace(x, projected, rows * dim);
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
}
