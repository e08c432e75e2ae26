package dev.lethe.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.gguf.GgufFormatException;
import dev.lethe.engine.gguf.GgufTensorInfo;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Each weight type's {@code getFloat} and {@code dot} against a reference written here from the ggml layouts:
 * decode every element in double precision, then dot naively. The data is random bytes (with finite scales),
 * so every bit pattern of the quants shows up.
 */
class WeightTensorsTest {
    private static final int BLOCKS = 40;

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void getFloatDecodesEveryElementLikeTheReference(GgmlType type) {
        Random random = new Random(type.ordinal());
        byte[] bytes = randomData(type, random);
        FloatTensor t = tensor(type, bytes);
        double[] ref = reference(type, bytes);
        assertEquals(ref.length, t.size());
        for (int i = 0; i < ref.length; i++) {
            assertEquals((float) ref[i], t.getFloat(i), "element " + i);
        }
        float[] copy = new float[ref.length + 3];
        t.copyTo(5, copy, 3, ref.length - 5);
        for (int i = 5; i < ref.length; i++) assertEquals((float) ref[i], copy[i - 2], "copied element " + i);
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void dotMatchesTheReferenceAtOddOffsetsAndLengths(GgmlType type) {
        Random random = new Random(100 + type.ordinal());
        byte[] bytes = randomData(type, random);
        FloatTensor t = tensor(type, bytes);
        double[] w = reference(type, bytes);
        float[] x = new float[w.length + 50];
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        // dot's offset must be a multiple of the block size; n need not be.
        int unit = type.blockSize();
        int[] offsets = {0, unit, 3 * unit, 7 * unit, unit == 1 ? 13 : 11 * unit};
        int[] lengths = {0, 1, 5, 16, 17, 31, 32, 33, 64, 75, 100, 257, 320, 640};
        for (int offset : offsets) {
            for (int n : lengths) {
                if (offset + n > w.length) continue;
                for (int xOffset : new int[] {0, 3, 37}) {
                    double expected = 0;
                    double magnitude = 0;
                    for (int i = 0; i < n; i++) {
                        expected += w[offset + i] * x[xOffset + i];
                        magnitude += Math.abs(w[offset + i] * x[xOffset + i]);
                    }
                    float actual = t.dot(offset, x, xOffset, n);
                    assertEquals(expected, actual, 1e-5 * magnitude + 1e-30,
                            type + " dot at offset " + offset + ", n " + n + ", xOffset " + xOffset);
                }
            }
        }
    }

    @Test
    void unsupportedTypeNamesTensorAndType() {
        byte[] bytes = new byte[(int) GgmlType.Q4_K.bytesFor(256)];
        var info = new GgufTensorInfo("blk.0.ffn_up.weight", new long[] {256}, GgmlType.Q4_K, 0, MemorySegment.ofArray(bytes));
        var e = assertThrows(GgufFormatException.class, () -> Tensors.of(info));
        assertTrue(e.getMessage().contains("blk.0.ffn_up.weight") && e.getMessage().contains("Q4_K"), e.getMessage());
    }

    @Test
    void tensorsOfPicksTheStorageType() {
        for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0}) {
            byte[] bytes = randomData(type, new Random(7));
            var info = new GgufTensorInfo("w", new long[] {BLOCKS * 32L}, type, 0, MemorySegment.ofArray(bytes));
            FloatTensor t = Tensors.of(info);
            assertEquals(type, t.type());
            assertEquals(BLOCKS * 32L, t.size());
        }
    }

    static FloatTensor tensor(GgmlType type, byte[] bytes) {
        var info = new GgufTensorInfo("test", new long[] {BLOCKS * 32L}, type, 0, MemorySegment.ofArray(bytes));
        return Tensors.of(info);
    }

    /** BLOCKS * 32 elements of random bits, but only finite floats and finite, normal-or-subnormal scales. */
    static byte[] randomData(GgmlType type, Random random) {
        int elements = BLOCKS * 32;
        byte[] bytes = new byte[(int) type.bytesFor(elements)];
        random.nextBytes(bytes);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < elements; i++) putInt(bytes, 4 * i, Float.floatToIntBits((float) random.nextGaussian()));
            }
            case F16 -> {
                for (int i = 0; i < elements; i++) putShort(bytes, 2 * i, finiteHalf(random));
            }
            case BF16 -> {
                for (int i = 0; i < elements; i++) {
                    // any sign and mantissa; exponents from subnormal up to 2^20, so sums cannot overflow
                    int exponent = random.nextInt(128 + 20);
                    putShort(bytes, 2 * i, (random.nextBoolean() ? 0x8000 : 0) | exponent << 7 | random.nextInt(1 << 7));
                }
            }
            case Q8_0, Q4_0 -> {
                for (int b = 0; b < BLOCKS; b++) putShort(bytes, b * type.blockBytes(), smallHalf(random));
            }
            default -> throw new AssertionError(type);
        }
        return bytes;
    }

    /** Any finite half, so subnormals and large values show up. */
    private static int finiteHalf(Random random) {
        int bits = random.nextInt(1 << 16);
        return ((bits >> 10) & 0x1F) == 0x1F ? bits & ~(1 << 14) : bits;
    }

    /** A half-float scale between about 1e-4 and 1, either sign: how scales look in real models. */
    private static int smallHalf(Random random) {
        int exponent = 2 + random.nextInt(13); // biased, so 2^-13 .. 2^-1
        return (random.nextBoolean() ? 0x8000 : 0) | exponent << 10 | random.nextInt(1 << 10);
    }

    /** The ggml layouts decoded in double precision, written independently of the classes under test. */
    static double[] reference(GgmlType type, byte[] bytes) {
        int elements = BLOCKS * 32;
        double[] out = new double[elements];
        for (int i = 0; i < elements; i++) {
            out[i] = switch (type) {
                case F32 -> Float.intBitsToFloat(getInt(bytes, 4 * i));
                case F16 -> half(getShort(bytes, 2 * i));
                case BF16 -> Float.intBitsToFloat(getShort(bytes, 2 * i) << 16);
                case Q8_0 -> {
                    int block = i / 32;
                    int base = block * 34;
                    yield bytes[base + 2 + i % 32] * half(getShort(bytes, base));
                }
                case Q4_0 -> {
                    int block = i / 32;
                    int j = i % 32;
                    int base = block * 18;
                    int packed = bytes[base + 2 + (j % 16)] & 0xFF;
                    int nibble = j < 16 ? packed & 0x0F : packed >> 4;
                    yield (nibble - 8) * half(getShort(bytes, base));
                }
                default -> throw new AssertionError(type);
            };
        }
        return out;
    }

    /** IEEE binary16: sign, 5-bit exponent (bias 15), 10-bit mantissa; exponent 0 is subnormal. */
    static double half(int bits) {
        int sign = (bits & 0x8000) != 0 ? -1 : 1;
        int exponent = (bits >> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        if (exponent == 0) return sign * mantissa * Math.pow(2, -24);
        if (exponent == 31) return mantissa == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        return sign * (1024 + mantissa) * Math.pow(2, exponent - 25);
    }

    private static int getShort(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8;
    }

    private static int getInt(byte[] b, int at) {
        return getShort(b, at) | getShort(b, at + 2) << 16;
    }

    private static void putShort(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >> 8);
    }

    private static void putInt(byte[] b, int at, int v) {
        putShort(b, at, v);
        putShort(b, at + 2, v >> 16);
    }
}
