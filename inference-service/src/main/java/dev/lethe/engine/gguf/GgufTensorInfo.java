package dev.lethe.engine.gguf;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One tensor of a GGUF file. {@code dims[0]} is the innermost (contiguous) dimension, as in ggml: a weight
 * matrix of {@code rows x cols} has {@code dims = {cols, rows}}. {@code data} is the tensor's bytes, a slice
 * of the memory-mapped file.
 */
public record GgufTensorInfo(String name, long[] dims, GgmlType type, long offset, MemorySegment data) {

    public long elementCount() {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(dims);
    }
}
