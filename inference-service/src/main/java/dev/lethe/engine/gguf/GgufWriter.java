package dev.lethe.engine.gguf;

import dev.lethe.engine.tensor.Quantizer;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Writes GGUF v3 files: metadata, a tensor directory, then each tensor's data, aligned to
 * {@code general.alignment} (32 unless the metadata says otherwise). Tensor values are given as float32 and
 * converted to each tensor's storage type here; they are produced one tensor at a time, so a model larger
 * than the heap can be written.
 *
 * <p>Metadata values map to GGUF types so that {@link GgufReader} reads back an equal value: {@link String}
 * to STRING, {@link Integer} to INT32, {@link Long} to INT64 (a Java long is signed), {@link Float} to FLOAT32,
 * {@link Double} to FLOAT64, {@link Boolean} to BOOL; arrays {@code byte[]} to INT8, {@code short[]} to INT16,
 * {@code int[]} to INT32, {@code long[]} to INT64, {@code float[]}, {@code double[]}, {@code boolean[]},
 * {@code String[]}, and {@code Object[]} of such arrays to an array of arrays. {@code Byte} and {@code Short}
 * are refused, because the reader widens them to {@code Integer}.
 */
public final class GgufWriter {
    private static final int VERSION = 3;
    /** Values converted per chunk while streaming a tensor: a multiple of every block size. */
    private static final int CHUNK = 1 << 16;

    /**
     * A tensor to write: {@code dims} innermost first (a {@code rows x cols} matrix is {@code {cols, rows}}),
     * {@code values} called once, when the tensor's turn comes, for its row-major float32 values.
     */
    public record TensorSource(String name, long[] dims, GgmlType type, Supplier<float[]> values) {
        public TensorSource {
            if (dims.length < 1 || dims.length > 4) throw new IllegalArgumentException("tensor '" + name + "' has " + dims.length + " dimensions (1 to 4 allowed)");
            if (!Quantizer.supports(type)) throw new IllegalArgumentException("tensor '" + name + "': cannot write type " + type);
            for (long d : dims) if (d <= 0) throw new IllegalArgumentException("tensor '" + name + "' has dimension " + d);
            long elements = elementCount(dims);
            if (elements % type.blockSize() != 0) {
                throw new IllegalArgumentException("tensor '" + name + "' of " + elements + " elements is not a whole number of "
                        + type + " blocks (" + type.blockSize() + " elements)");
            }
        }

        public static TensorSource of(String name, long[] dims, GgmlType type, float[] values) {
            return new TensorSource(name, dims, type, () -> values);
        }

        long elementCount() {
            return elementCount(dims);
        }

        long byteSize() {
            return type.bytesFor(elementCount());
        }

        private static long elementCount(long[] dims) {
            long n = 1;
            for (long d : dims) n = Math.multiplyExact(n, d);
            return n;
        }
    }

    private final OutputStream out;
    private long written;

    private GgufWriter(OutputStream out) {
        this.out = out;
    }

    /** Writes {@code metadata} and {@code tensors}, in the given orders, to a new file at {@code path}. */
    public static void write(Path path, Map<String, Object> metadata, List<TensorSource> tensors) throws IOException {
        Set<String> names = new HashSet<>();
        for (TensorSource t : tensors) {
            if (!names.add(t.name())) throw new IllegalArgumentException("tensor '" + t.name() + "' given twice");
        }
        long alignment = alignment(metadata);
        try (OutputStream stream = new BufferedOutputStream(Files.newOutputStream(path), 1 << 20)) {
            new GgufWriter(stream).writeAll(metadata, tensors, alignment);
        }
    }

    private static long alignment(Map<String, Object> metadata) {
        Object value = metadata.get("general.alignment");
        if (value == null) return GgufReader.DEFAULT_ALIGNMENT;
        if (!(value instanceof Integer a) || a <= 0 || Integer.bitCount(a) != 1) {
            throw new IllegalArgumentException("general.alignment must be an Integer power of two, got " + value);
        }
        return a;
    }

    private void writeAll(Map<String, Object> metadata, List<TensorSource> tensors, long alignment) throws IOException {
        writeInt(GgufReader.MAGIC);
        writeInt(VERSION);
        writeLong(tensors.size());
        writeLong(metadata.size());
        for (Map.Entry<String, Object> e : metadata.entrySet()) {
            writeString(e.getKey());
            writeValue(e.getKey(), e.getValue());
        }
        long offset = 0;
        for (TensorSource t : tensors) {
            writeString(t.name());
            writeInt(t.dims().length);
            for (long d : t.dims()) writeLong(d);
            writeInt(t.type().id());
            writeLong(offset);
            offset = align(offset + t.byteSize(), alignment);
        }
        pad(alignment);
        for (TensorSource t : tensors) {
            writeData(t);
            pad(alignment);
        }
    }

    private void writeData(TensorSource t) throws IOException {
        float[] values = t.values().get();
        if (values.length != t.elementCount()) {
            throw new IllegalArgumentException("tensor '" + t.name() + "' has " + t.elementCount() + " elements but "
                    + values.length + " values were given");
        }
        byte[] buffer = new byte[Math.toIntExact(t.type().bytesFor(CHUNK))];
        for (int start = 0; start < values.length; start += CHUNK) {
            int n = Math.min(CHUNK, values.length - start);
            write(buffer, Quantizer.quantize(t.type(), values, start, n, buffer, 0));
        }
    }

    private void writeValue(String key, Object value) throws IOException {
        GgufValueType type = typeOf(key, value);
        writeInt(type.ordinal());
        switch (value) {
            case String s -> writeString(s);
            case Integer i -> writeInt(i);
            case Long l -> writeLong(l);
            case Float f -> writeInt(Float.floatToRawIntBits(f));
            case Double d -> writeLong(Double.doubleToRawLongBits(d));
            case Boolean b -> writeByte(b ? 1 : 0);
            default -> writeArray(key, value);
        }
    }

    private void writeArray(String key, Object array) throws IOException {
        switch (array) {
            case byte[] a -> {
                arrayHeader(GgufValueType.INT8, a.length);
                write(a, a.length);
            }
            case short[] a -> {
                arrayHeader(GgufValueType.INT16, a.length);
                for (short v : a) writeShort(v);
            }
            case int[] a -> {
                arrayHeader(GgufValueType.INT32, a.length);
                for (int v : a) writeInt(v);
            }
            case long[] a -> {
                arrayHeader(GgufValueType.INT64, a.length);
                for (long v : a) writeLong(v);
            }
            case float[] a -> {
                arrayHeader(GgufValueType.FLOAT32, a.length);
                for (float v : a) writeInt(Float.floatToRawIntBits(v));
            }
            case double[] a -> {
                arrayHeader(GgufValueType.FLOAT64, a.length);
                for (double v : a) writeLong(Double.doubleToRawLongBits(v));
            }
            case boolean[] a -> {
                arrayHeader(GgufValueType.BOOL, a.length);
                for (boolean v : a) writeByte(v ? 1 : 0);
            }
            case String[] a -> {
                arrayHeader(GgufValueType.STRING, a.length);
                for (String v : a) writeString(v);
            }
            case Object[] a -> {
                arrayHeader(GgufValueType.ARRAY, a.length);
                for (Object inner : a) {
                    if (typeOf(key, inner) != GgufValueType.ARRAY) {
                        throw new IllegalArgumentException("metadata '" + key + "': an Object[] must hold arrays, found " + inner);
                    }
                    writeArray(key, inner);
                }
            }
            default -> throw new AssertionError(array);
        }
    }

    private static GgufValueType typeOf(String key, Object value) {
        return switch (value) {
            case String _ -> GgufValueType.STRING;
            case Integer _ -> GgufValueType.INT32;
            case Long _ -> GgufValueType.INT64;
            case Float _ -> GgufValueType.FLOAT32;
            case Double _ -> GgufValueType.FLOAT64;
            case Boolean _ -> GgufValueType.BOOL;
            case byte[] _ -> GgufValueType.ARRAY;
            case short[] _ -> GgufValueType.ARRAY;
            case int[] _ -> GgufValueType.ARRAY;
            case long[] _ -> GgufValueType.ARRAY;
            case float[] _ -> GgufValueType.ARRAY;
            case double[] _ -> GgufValueType.ARRAY;
            case boolean[] _ -> GgufValueType.ARRAY;
            case String[] _ -> GgufValueType.ARRAY;
            case Object[] _ -> GgufValueType.ARRAY;
            case null -> throw new IllegalArgumentException("metadata '" + key + "' is null");
            default -> throw new IllegalArgumentException("metadata '" + key + "' has a value of type "
                    + value.getClass().getSimpleName() + ", which GGUF metadata cannot hold (see GgufWriter's javadoc)");
        };
    }

    private void arrayHeader(GgufValueType elementType, int length) throws IOException {
        writeInt(elementType.ordinal());
        writeLong(length);
    }

    private static long align(long position, long alignment) {
        return (position + alignment - 1) / alignment * alignment;
    }

    private void pad(long alignment) throws IOException {
        long padding = align(written, alignment) - written;
        for (long i = 0; i < padding; i++) writeByte(0);
    }

    private void writeString(String s) throws IOException {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        writeLong(bytes.length);
        write(bytes, bytes.length);
    }

    private void write(byte[] bytes, int length) throws IOException {
        out.write(bytes, 0, length);
        written += length;
    }

    private void writeByte(int v) throws IOException {
        out.write(v);
        written++;
    }

    private void writeShort(int v) throws IOException {
        writeByte(v);
        writeByte(v >> 8);
    }

    private void writeInt(int v) throws IOException {
        writeShort(v);
        writeShort(v >> 16);
    }

    private void writeLong(long v) throws IOException {
        writeInt((int) v);
        writeInt((int) (v >> 32));
    }
}
