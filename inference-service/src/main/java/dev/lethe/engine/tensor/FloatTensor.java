package dev.lethe.engine.tensor;

import dev.lethe.engine.gguf.GgmlType;

/**
 * A read-only weight tensor viewed as a flat array of floats, whatever its storage type. Each storage type
 * has its own subclass with its own vectorised {@link #dot}, the one hot loop of the forward pass.
 */
public abstract class FloatTensor {

    /** Number of elements. */
    public abstract long size();

    public abstract GgmlType type();

    /** Element {@code index}, dequantized. Slow: for tests, embeddings and references, not for hot loops. */
    public abstract float getFloat(long index);

    /** {@code sum over i < n of this[offset + i] * x[xOffset + i]}; {@code offset} is a multiple of the block size. */
    public abstract float dot(long offset, float[] x, int xOffset, int n);

    /** Copies {@code n} dequantized elements starting at {@code offset} into {@code out[outOffset..]}. */
    public void copyTo(long offset, float[] out, int outOffset, int n) {
        for (int i = 0; i < n; i++) out[outOffset + i] = getFloat(offset + i);
    }
}
