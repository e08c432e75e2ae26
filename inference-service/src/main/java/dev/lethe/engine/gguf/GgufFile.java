package dev.lethe.engine.gguf;

import java.lang.foreign.Arena;
import java.util.Map;

/**
 * A parsed, memory-mapped GGUF file: its metadata and its tensors. Tensor data stays in the mapping, which
 * lives until {@link #close}.
 *
 * <p>Metadata values are Java objects: integers of 32 bits or fewer as {@link Integer} (UINT32 too, read as
 * its bit pattern), 64-bit integers as {@link Long}, FLOAT32 as {@link Float}, FLOAT64 as {@link Double},
 * BOOL as {@link Boolean}, STRING as {@link String}; arrays as {@code byte[]}, {@code short[]}, {@code int[]},
 * {@code long[]}, {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]} or, for arrays of
 * arrays, {@code Object[]}.
 */
public record GgufFile(int version, Map<String, Object> metadata, Map<String, GgufTensorInfo> tensors, Arena arena)
        implements AutoCloseable {

    public GgufTensorInfo tensor(String name) {
        GgufTensorInfo t = tensors.get(name);
        if (t == null) throw new GgufFormatException("tensor '" + name + "' is missing from the model file");
        return t;
    }

    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    public String getString(String key) {
        return (String) require(key);
    }

    public int getInt(String key) {
        return ((Number) require(key)).intValue();
    }

    public int getInt(String key, int defaultValue) {
        Object v = metadata.get(key);
        return v == null ? defaultValue : ((Number) v).intValue();
    }

    public float getFloat(String key, float defaultValue) {
        Object v = metadata.get(key);
        return v == null ? defaultValue : ((Number) v).floatValue();
    }

    public Object require(String key) {
        Object v = metadata.get(key);
        if (v == null) throw new GgufFormatException("metadata key '" + key + "' is missing from the model file");
        return v;
    }

    @Override
    public void close() {
        arena.close();
    }
}
