package dev.lethe.cache;

/**
 * Shape of a KV cache: how many layers, how many KV heads per layer and how many floats per head.
 * One cached token of one layer holds {@code kvDim()} key floats and as many value floats.
 */
public record KvLayout(int layers, int kvHeads, int headDim) {
    public KvLayout {
        if (layers <= 0) throw new IllegalArgumentException("layers must be positive, got " + layers);
        if (kvHeads <= 0) throw new IllegalArgumentException("kvHeads must be positive, got " + kvHeads);
        if (headDim <= 0) throw new IllegalArgumentException("headDim must be positive, got " + headDim);
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Bytes one token occupies in one layer (keys and values, float32). */
    public long bytesPerTokenPerLayer() {
        return 2L * kvDim() * Float.BYTES;
    }
}
