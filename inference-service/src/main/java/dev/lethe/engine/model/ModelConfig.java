package dev.lethe.engine.model;

import dev.lethe.engine.gguf.GgufFile;
import dev.lethe.engine.gguf.GgufFormatException;

/** Hyperparameters of a model, read from its GGUF metadata ({@code <arch>.*} keys, as llama.cpp names them). */
public record ModelConfig(
        Architecture architecture,
        int dim,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int ffnDim,
        int vocabularySize,
        int contextLength,
        float rmsEps,
        float ropeTheta) {

    public ModelConfig {
        if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || ffnDim <= 0 || vocabularySize <= 0 || contextLength <= 0) {
            throw new GgufFormatException("model hyperparameters must be positive: " + this);
        }
        if (heads % kvHeads != 0) {
            throw new GgufFormatException("query heads (" + heads + ") must be a multiple of KV heads (" + kvHeads + ")");
        }
        if (headDim % 2 != 0) throw new GgufFormatException("head dimension must be even for RoPE, got " + headDim);
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public int qDim() {
        return heads * headDim;
    }

    static ModelConfig from(GgufFile gguf, int vocabularySize) {
        Architecture arch = Architecture.fromGguf(gguf.getString("general.architecture"));
        String p = arch.ggufName() + ".";
        int dim = gguf.getInt(p + "embedding_length");
        int heads = gguf.getInt(p + "attention.head_count");
        int headDim = gguf.getInt(p + "attention.key_length", dim / heads);
        return new ModelConfig(
                arch,
                dim,
                gguf.getInt(p + "block_count"),
                heads,
                gguf.getInt(p + "attention.head_count_kv", heads),
                headDim,
                gguf.getInt(p + "feed_forward_length"),
                vocabularySize,
                gguf.getInt(p + "context_length"),
                gguf.getFloat(p + "attention.layer_norm_rms_epsilon", 1e-5f),
                gguf.getFloat(p + "rope.freq_base", 10000f));
    }
}
