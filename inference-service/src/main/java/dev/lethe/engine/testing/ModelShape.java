package dev.lethe.engine.testing;

import dev.lethe.engine.gguf.GgmlType;
import java.util.Set;

/**
 * The shape of a random model for {@link RandomModels}: llama.cpp's hyperparameters plus the storage type of
 * the weight matrices, the random seed, and whether the output projection reuses the token embedding.
 */
public record ModelShape(String arch, int dim, int layers, int heads, int kvHeads, int ffn, int vocab, int context,
                         GgmlType weightType, long seed, boolean tiedEmbeddings) {
    /** The byte tokens and three specials every random vocabulary starts with. */
    public static final int MIN_VOCAB = 3 + 256;
    private static final Set<String> ARCHITECTURES = Set.of("llama", "qwen2", "qwen3");

    public ModelShape {
        if (!ARCHITECTURES.contains(arch)) throw new IllegalArgumentException("architecture '" + arch + "' is not one of " + ARCHITECTURES);
        if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || ffn <= 0 || context <= 0) {
            throw new IllegalArgumentException("model sizes must be positive: " + this);
        }
        if (dim % heads != 0 || (dim / heads) % 2 != 0) throw new IllegalArgumentException("dim " + dim + " must split into " + heads + " heads of even size");
        if (heads % kvHeads != 0) throw new IllegalArgumentException(heads + " heads cannot share " + kvHeads + " kv heads evenly");
        if (vocab < MIN_VOCAB) throw new IllegalArgumentException("vocab " + vocab + " is below " + MIN_VOCAB + " (specials and byte tokens)");
        int block = weightType.blockSize();
        if (dim % block != 0 || ffn % block != 0) {
            throw new IllegalArgumentException(weightType + " rows need multiples of " + block + " columns; dim " + dim + ", ffn " + ffn);
        }
    }

    /** A model of a few hundred kilobytes, for tests. */
    public static ModelShape tiny(String arch, GgmlType weightType, long seed) {
        return new ModelShape(arch, 64, 2, 4, 2, 128, 300, 256, weightType, seed, false);
    }

    /**
     * TinyLlama-1.1B's shape: dim 2048, 22 layers, 32 heads of 64, 4 kv heads, ffn 5632, vocab 32000; 1.1 billion
     * weights, 4.4 GB in F32. A real, widely run ~1B shape, so decode speeds compare with published numbers.
     */
    public static ModelShape llama1B(GgmlType weightType, long seed) {
        return new ModelShape("llama", 2048, 22, 32, 4, 5632, 32000, 2048, weightType, seed, false);
    }

    public int headDim() {
        return dim / heads;
    }

    public int kvDim() {
        return kvHeads * headDim();
    }

    public long parameterCount() {
        long perLayer = 2L * dim * dim + 2L * dim * kvDim() + 3L * dim * ffn + 2L * dim;
        if (arch.equals("qwen2")) perLayer += dim + 2L * kvDim();
        if (arch.equals("qwen3")) perLayer += 2L * headDim();
        return layers * perLayer + (tiedEmbeddings ? 1 : 2) * (long) vocab * dim + dim;
    }
}
