package dev.lethe.engine.model;

import dev.lethe.engine.tensor.FloatTensor;

/**
 * A plain double-precision transformer forward pass over the whole token sequence at once, written for tests
 * only: no KV cache, no vector kernels, no shared code with the engine beyond reading dequantized weights.
 * It re-derives RoPE, GQA, biases and q/k norms from the architecture's definition.
 */
final class ReferenceForwardPass {
    private final ModelConfig c;
    private final ModelWeights w;

    ReferenceForwardPass(Model model) {
        this.c = model.config();
        this.w = model.weights();
    }

    /** Logits after each token: result[t][vocab]. */
    double[][] logits(int[] tokens) {
        int n = tokens.length;
        int dim = c.dim();
        int hd = c.headDim();
        double[][] x = new double[n][dim];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < dim; i++) x[t][i] = w.tokenEmbedding().getFloat((long) tokens[t] * dim + i);
        }
        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            double[][] q = new double[n][];
            double[][] k = new double[n][];
            double[][] v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] xn = rmsNorm(x[t], lw.attentionNorm());
                q[t] = matVec(lw.wq(), c.qDim(), dim, xn);
                k[t] = matVec(lw.wk(), c.kvDim(), dim, xn);
                v[t] = matVec(lw.wv(), c.kvDim(), dim, xn);
                if (lw.qBias() != null) {
                    add(q[t], lw.qBias());
                    add(k[t], lw.kBias());
                    add(v[t], lw.vBias());
                }
                for (int h = 0; h < c.heads(); h++) {
                    if (lw.qNorm() != null) normHead(q[t], h * hd, lw.qNorm());
                    rotate(q[t], h * hd, t);
                }
                for (int h = 0; h < c.kvHeads(); h++) {
                    if (lw.kNorm() != null) normHead(k[t], h * hd, lw.kNorm());
                    rotate(k[t], h * hd, t);
                }
            }
            for (int t = 0; t < n; t++) {
                double[] out = new double[c.qDim()];
                for (int h = 0; h < c.heads(); h++) {
                    int kvh = h * c.kvHeads() / c.heads();
                    double[] scores = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = 0; s <= t; s++) {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[t][h * hd + i] * k[s][kvh * hd + i];
                        scores[s] = dot / Math.sqrt(hd);
                        max = Math.max(max, scores[s]);
                    }
                    double sum = 0;
                    for (int s = 0; s <= t; s++) sum += scores[s] = Math.exp(scores[s] - max);
                    for (int s = 0; s <= t; s++) {
                        for (int i = 0; i < hd; i++) out[h * hd + i] += scores[s] / sum * v[s][kvh * hd + i];
                    }
                }
                add(x[t], matVec(lw.wo(), dim, c.qDim(), out));
                double[] xn = rmsNorm(x[t], lw.ffnNorm());
                double[] g = matVec(lw.wGate(), c.ffnDim(), dim, xn);
                double[] u = matVec(lw.wUp(), c.ffnDim(), dim, xn);
                for (int i = 0; i < g.length; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                add(x[t], matVec(lw.wDown(), dim, c.ffnDim(), g));
            }
        }
        double[][] logits = new double[n][];
        for (int t = 0; t < n; t++) logits[t] = matVec(w.output(), c.vocabularySize(), dim, rmsNorm(x[t], w.outputNorm()));
        return logits;
    }

    private void rotate(double[] x, int base, int position) {
        int hd = c.headDim();
        boolean neox = c.architecture() != Architecture.LLAMA;
        for (int i = 0; i < hd / 2; i++) {
            double freq = Math.pow(c.ropeTheta(), -2.0 * i / hd);
            if (w.ropeFreqFactors() != null) freq /= w.ropeFreqFactors()[i];
            double angle = position * freq;
            int a = neox ? base + i : base + 2 * i;
            int b = neox ? base + i + hd / 2 : base + 2 * i + 1;
            double x0 = x[a];
            double x1 = x[b];
            x[a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
            x[b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
        }
    }

    private void normHead(double[] x, int base, float[] weight) {
        double ss = 0;
        for (int i = 0; i < weight.length; i++) ss += x[base + i] * x[base + i];
        double scale = 1 / Math.sqrt(ss / weight.length + c.rmsEps());
        for (int i = 0; i < weight.length; i++) x[base + i] = x[base + i] * scale * weight[i];
    }

    private double[] rmsNorm(double[] x, float[] weight) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double scale = 1 / Math.sqrt(ss / x.length + c.rmsEps());
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] * scale * weight[i];
        return out;
    }

    private static double[] matVec(FloatTensor m, int rows, int cols, double[] x) {
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int i = 0; i < cols; i++) sum += m.getFloat((long) r * cols + i) * x[i];
            out[r] = sum;
        }
        return out;
    }

    private static void add(double[] x, float[] b) {
        for (int i = 0; i < x.length; i++) x[i] += b[i];
    }

    private static void add(double[] x, double[] b) {
        for (int i = 0; i < x.length; i++) x[i] += b[i];
    }
}
