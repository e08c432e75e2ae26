package dev.lethe.engine.model;

import dev.lethe.engine.tensor.FloatTensor;

/**
 * Weights of one transformer block. Matrices are row-major {@code out x in}. The biases (qwen2) and the
 * per-head q/k norms (qwen3) are null for architectures without them.
 */
public record LayerWeights(
        float[] attentionNorm,
        FloatTensor wq,
        FloatTensor wk,
        FloatTensor wv,
        FloatTensor wo,
        float[] qBias,
        float[] kBias,
        float[] vBias,
        float[] qNorm,
        float[] kNorm,
        float[] ffnNorm,
        FloatTensor wGate,
        FloatTensor wUp,
        FloatTensor wDown) {}
