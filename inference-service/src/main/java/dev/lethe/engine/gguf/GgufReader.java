package dev.lethe.engine.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads GGUF v2 and v3 files: parses the header, metadata and tensor directory, and maps the whole file
 * into memory so that every tensor is a zero-copy {@link MemorySegment} slice. Every malformed or truncated
 * input becomes a {@link GgufFormatException} that says what was wrong and where.
 */
public final class GgufReader {
    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian int
    static final int DEFAULT_ALIGNMENT = 32;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Caps on counts read from the file, so a corrupted count is an error instead of a huge allocation. */
    private static final long MAX_COUNT = 1L << 28;

    private final MemorySegment file;
    private long pos;

    private GgufReader(MemorySegment file) {
        this.file = file;
    }

    public static GgufFile read(Path path) {
        return read(path, WeightResidence.fromSystemProperty());
    }

    /**
     * Reads a GGUF file whose tensors stay in the file's memory mapping ({@link WeightResidence#MAPPED}) or are
     * copied once into anonymous memory ({@link WeightResidence#MEMORY}), which a machine without swap never
     * pages out: kernels that reclaim idle file pages (DAMON, seen on our CI machines) otherwise turn a decode
     * step into disk reads.
     */
    public static GgufFile read(Path path, WeightResidence residence) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            if (residence == WeightResidence.MEMORY) {
                MemorySegment copy = arena.allocate(mapped.byteSize(), 64);
                copy.copyFrom(mapped);
                mapped = copy;
            }
            return new GgufReader(mapped).parse(arena, path);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new GgufFormatException("model file not found: " + path);
        } catch (IOException e) {
            arena.close();
            throw new GgufFormatException("cannot read model file " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private GgufFile parse(Arena arena, Path path) {
        if (file.byteSize() < 24) throw new GgufFormatException(path + " is too short to be a GGUF file (" + file.byteSize() + " bytes)");
        int magic = readInt();
        if (magic != MAGIC) throw new GgufFormatException(path + " is not a GGUF file (bad magic number)");
        int version = readInt();
        if (version != 2 && version != 3) {
            throw new GgufFormatException("unsupported GGUF version " + version + " in " + path + " (this reader takes 2 and 3)");
        }
        long tensorCount = readCount("tensor count");
        long kvCount = readCount("metadata count");
        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = readString();
            GgufValueType type = GgufValueType.fromId(readInt());
            metadata.put(key, readValue(type, key));
        }
        record Pending(String name, long[] dims, GgmlType type, long offset) {}
        Pending[] pending = new Pending[(int) tensorCount];
        for (int i = 0; i < tensorCount; i++) {
            String name = readString();
            int nDims = readInt();
            if (nDims < 1 || nDims > 4) throw new GgufFormatException("tensor '" + name + "' has " + nDims + " dimensions");
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = readLong();
                if (dims[d] <= 0 || dims[d] > (1L << 40)) throw new GgufFormatException("tensor '" + name + "' has dimension " + dims[d]);
            }
            GgmlType type;
            try {
                type = GgmlType.fromId(readInt());
            } catch (GgufFormatException e) {
                throw new GgufFormatException("tensor '" + name + "': " + e.getMessage());
            }
            pending[i] = new Pending(name, dims, type, readLong());
        }
        Object alignmentValue = metadata.get("general.alignment");
        long alignment = alignmentValue == null ? DEFAULT_ALIGNMENT : ((Number) alignmentValue).longValue();
        if (alignment <= 0 || Long.bitCount(alignment) != 1) throw new GgufFormatException("general.alignment " + alignment + " is not a power of two");
        long dataStart = (pos + alignment - 1) / alignment * alignment;
        Map<String, GgufTensorInfo> tensors = new LinkedHashMap<>();
        for (Pending p : pending) {
            long elements = 1;
            for (long d : p.dims) elements = Math.multiplyExact(elements, d);
            long bytes;
            try {
                bytes = p.type.bytesFor(elements);
            } catch (GgufFormatException e) {
                throw new GgufFormatException("tensor '" + p.name + "': " + e.getMessage());
            }
            long start = dataStart + p.offset;
            if (p.offset < 0 || start + bytes > file.byteSize()) {
                throw new GgufFormatException("tensor '" + p.name + "' lies outside the file (needs bytes "
                        + start + ".." + (start + bytes) + ", file has " + file.byteSize() + "): truncated file?");
            }
            if (tensors.put(p.name, new GgufTensorInfo(p.name, p.dims, p.type, p.offset, file.asSlice(start, bytes))) != null) {
                throw new GgufFormatException("tensor '" + p.name + "' appears twice");
            }
        }
        return new GgufFile(version, Collections.unmodifiableMap(metadata), Collections.unmodifiableMap(tensors), arena);
    }

    private Object readValue(GgufValueType type, String key) {
        return switch (type) {
            case UINT8, INT8 -> (int) readByte();
            case UINT16, INT16 -> (int) readShort();
            case UINT32, INT32 -> readInt();
            case UINT64, INT64 -> readLong();
            case FLOAT32 -> readFloat();
            case FLOAT64 -> readDouble();
            case BOOL -> readByte() != 0;
            case STRING -> readString();
            case ARRAY -> readArray(key);
        };
    }

    private Object readArray(String key) {
        GgufValueType type = GgufValueType.fromId(readInt());
        int n = (int) readCount("length of array '" + key + "'");
        switch (type) {
            case UINT8, INT8, BOOL -> {
                byte[] a = new byte[n];
                for (int i = 0; i < n; i++) a[i] = readByte();
                if (type != GgufValueType.BOOL) return a;
                boolean[] b = new boolean[n];
                for (int i = 0; i < n; i++) b[i] = a[i] != 0;
                return b;
            }
            case UINT16, INT16 -> {
                short[] a = new short[n];
                for (int i = 0; i < n; i++) a[i] = readShort();
                return a;
            }
            case UINT32, INT32 -> {
                int[] a = new int[n];
                for (int i = 0; i < n; i++) a[i] = readInt();
                return a;
            }
            case UINT64, INT64 -> {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) a[i] = readLong();
                return a;
            }
            case FLOAT32 -> {
                float[] a = new float[n];
                for (int i = 0; i < n; i++) a[i] = readFloat();
                return a;
            }
            case FLOAT64 -> {
                double[] a = new double[n];
                for (int i = 0; i < n; i++) a[i] = readDouble();
                return a;
            }
            case STRING -> {
                String[] a = new String[n];
                for (int i = 0; i < n; i++) a[i] = readString();
                return a;
            }
            case ARRAY -> {
                Object[] a = new Object[n];
                for (int i = 0; i < n; i++) a[i] = readArray(key);
                return a;
            }
        }
        throw new AssertionError(type);
    }

    private void need(long bytes) {
        if (pos + bytes > file.byteSize()) {
            throw new GgufFormatException("unexpected end of GGUF file at byte " + pos + " (needed " + bytes
                    + " more, file has " + file.byteSize() + "): truncated file?");
        }
    }

    private long readCount(String what) {
        long n = readLong();
        if (n < 0 || n > MAX_COUNT) throw new GgufFormatException("implausible " + what + " " + n + " at byte " + (pos - 8) + ": corrupted file?");
        return n;
    }

    private String readString() {
        long len = readLong();
        if (len < 0 || len > file.byteSize()) throw new GgufFormatException("implausible string length " + len + " at byte " + (pos - 8) + ": corrupted file?");
        need(len);
        byte[] bytes = file.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
        pos += len;
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private byte readByte() {
        need(1);
        return file.get(ValueLayout.JAVA_BYTE, pos++);
    }

    private short readShort() {
        need(2);
        short v = file.get(I16, pos);
        pos += 2;
        return v;
    }

    private int readInt() {
        need(4);
        int v = file.get(I32, pos);
        pos += 4;
        return v;
    }

    private long readLong() {
        need(8);
        long v = file.get(I64, pos);
        pos += 8;
        return v;
    }

    private float readFloat() {
        need(4);
        float v = file.get(F32, pos);
        pos += 4;
        return v;
    }

    private double readDouble() {
        need(8);
        double v = file.get(F64, pos);
        pos += 8;
        return v;
    }
}
