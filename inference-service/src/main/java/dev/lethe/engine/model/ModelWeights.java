package dev.lethe.engine.model;

import dev.lethe.engine.tensor.FloatTensor;

/**
 * All weights of a model. {@code output} is the token embedding itself when the model ties them.
 * {@code ropeFreqFactors} (llama 3 style long-context scaling) divides each RoPE frequency, or is null.
 */
public record ModelWeights(
        FloatTensor tokenEmbedding,
        LayerWeights[] layers,
        float[] outputNorm,
        FloatTensor output,
        float[] ropeFreqFactors) {}
