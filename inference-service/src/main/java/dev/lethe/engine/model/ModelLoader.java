package dev.lethe.engine.model;

import dev.lethe.engine.gguf.GgufFile;
import dev.lethe.engine.gguf.GgufFormatException;
import dev.lethe.engine.gguf.GgufTensorInfo;
import dev.lethe.engine.tensor.FloatTensor;
import dev.lethe.engine.tensor.Tensors;
import java.util.Arrays;

/** Binds a GGUF file's tensors (llama.cpp names) to {@link ModelWeights}, checking every shape. */
final class ModelLoader {
    private final GgufFile gguf;
    private final ModelConfig c;

    private ModelLoader(GgufFile gguf, ModelConfig config) {
        this.gguf = gguf;
        this.c = config;
    }

    static ModelWeights load(GgufFile gguf, ModelConfig config) {
        return new ModelLoader(gguf, config).load();
    }

    private ModelWeights load() {
        FloatTensor embedding = matrix("token_embd.weight", c.vocabularySize(), c.dim());
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            Architecture a = c.architecture();
            layers[l] = new LayerWeights(
                    vector(p + "attn_norm.weight", c.dim()),
                    matrix(p + "attn_q.weight", c.qDim(), c.dim()),
                    matrix(p + "attn_k.weight", c.kvDim(), c.dim()),
                    matrix(p + "attn_v.weight", c.kvDim(), c.dim()),
                    matrix(p + "attn_output.weight", c.dim(), c.qDim()),
                    a.qkvBias() ? vector(p + "attn_q.bias", c.qDim()) : null,
                    a.qkvBias() ? vector(p + "attn_k.bias", c.kvDim()) : null,
                    a.qkvBias() ? vector(p + "attn_v.bias", c.kvDim()) : null,
                    a.qkNorm() ? vector(p + "attn_q_norm.weight", c.headDim()) : null,
                    a.qkNorm() ? vector(p + "attn_k_norm.weight", c.headDim()) : null,
                    vector(p + "ffn_norm.weight", c.dim()),
                    matrix(p + "ffn_gate.weight", c.ffnDim(), c.dim()),
                    matrix(p + "ffn_up.weight", c.ffnDim(), c.dim()),
                    matrix(p + "ffn_down.weight", c.dim(), c.ffnDim()));
        }
        FloatTensor output = gguf.hasTensor("output.weight") ? matrix("output.weight", c.vocabularySize(), c.dim()) : embedding;
        float[] ropeFactors = gguf.hasTensor("rope_freqs.weight") ? vector("rope_freqs.weight", c.headDim() / 2) : null;
        return new ModelWeights(embedding, layers, vector("output_norm.weight", c.dim()), output, ropeFactors);
    }

    /** A {@code rows x cols} weight matrix: ggml dims {cols, rows}. */
    private FloatTensor matrix(String name, int rows, int cols) {
        GgufTensorInfo t = gguf.tensor(name);
        expectDims(t, cols, rows);
        return Tensors.of(t);
    }

    private float[] vector(String name, int n) {
        GgufTensorInfo t = gguf.tensor(name);
        expectDims(t, n);
        float[] out = new float[n];
        Tensors.of(t).copyTo(0, out, 0, n);
        return out;
    }

    private static void expectDims(GgufTensorInfo t, long... expected) {
        long[] dims = t.dims();
        int n = dims.length;
        while (n > expected.length && dims[n - 1] == 1) n--; // ggml may pad shapes with trailing 1s
        if (!Arrays.equals(Arrays.copyOf(dims, n), expected)) {
            throw new GgufFormatException("tensor '" + t.name() + "' has shape " + Arrays.toString(dims)
                    + ", expected " + Arrays.toString(expected));
        }
    }
}
