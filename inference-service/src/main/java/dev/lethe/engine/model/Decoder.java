package dev.lethe.engine.model;

import dev.lethe.cache.KvCache;

/**
 * What generation needs of a sequence being decoded, whatever runs the forward pass: the CPU's
 * {@link Sequence} or the GPU's {@code dev.lethe.engine.gpu.GpuSequence}.
 */
public interface Decoder extends AutoCloseable {

    /** Feeds all tokens and returns the logits after the last one (reused by the next call). */
    float[] prefill(int[] tokens);

    /** Feeds one token at the next position and returns the logits for the token after it (reused by the next call). */
    float[] forward(int token);

    /** The logits after the last token fed (reused by the next call). */
    float[] logits();

    /** The KV cache whose policy decides what this sequence keeps (null for a device-only full cache). */
    KvCache cache();

    /** Position the next token will take (the number of tokens fed so far). */
    int position();

    /** Most positions the model can take. */
    int contextLength();

    @Override
    void close();
}
