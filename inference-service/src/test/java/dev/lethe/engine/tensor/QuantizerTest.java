package dev.lethe.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.gguf.GgufTensorInfo;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Quantize then dequantize (through the tensor classes) stays within each type's error bound. */
class QuantizerTest {
    private static final int N = 32 * 64;

    private static float[] data(long seed) {
        Random random = new Random(seed);
        float[] x = new float[N];
        for (int i = 0; i < N; i++) x[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(5) - 3));
        for (int i = 64; i < 96; i++) x[i] = 0; // an all-zero block must not divide by zero
        x[200] = 1e-30f; // a tiny value
        return x;
    }

    private static FloatTensor roundTrip(GgmlType type, float[] x) {
        byte[] bytes = new byte[(int) type.bytesFor(x.length)];
        assertEquals(bytes.length, Quantizer.quantize(type, x, 0, x.length, bytes, 0));
        return Tensors.of(new GgufTensorInfo("t", new long[] {x.length}, type, 0, MemorySegment.ofArray(bytes)));
    }

    @Test
    void f32IsExact() {
        float[] x = data(1);
        FloatTensor t = roundTrip(GgmlType.F32, x);
        for (int i = 0; i < N; i++) assertEquals(x[i], t.getFloat(i));
    }

    @Test
    void f16AndBf16RoundToNearest() {
        float[] x = data(2);
        FloatTensor f16 = roundTrip(GgmlType.F16, x);
        FloatTensor bf16 = roundTrip(GgmlType.BF16, x);
        for (int i = 0; i < N; i++) {
            // Relative half-ulp for normal values, plus an absolute term for half's subnormal range.
            assertEquals(x[i], f16.getFloat(i), Math.abs(x[i]) * 0x1p-11 + 0x1p-25, "F16 element " + i);
            assertEquals(x[i], bf16.getFloat(i), Math.abs(x[i]) * 0x1p-8, "BF16 element " + i);
        }
    }

    @Test
    void bf16RoundsHalfwayToEven() {
        float halfway = Float.intBitsToFloat(0x3F808000); // exactly between two bfloat16 values
        FloatTensor t = roundTrip(GgmlType.BF16, new float[] {halfway, -halfway});
        assertEquals(Float.intBitsToFloat(0x3F800000), t.getFloat(0));
        assertEquals(-Float.intBitsToFloat(0x3F800000), t.getFloat(1));
    }

    @Test
    void q8_0ErrorIsHalfAStepPerBlock() {
        float[] x = data(3);
        FloatTensor t = roundTrip(GgmlType.Q8_0, x);
        for (int b = 0; b < N / 32; b++) {
            float amax = blockMax(x, b);
            // half a quantization step, plus the scale's own half-float rounding at full scale
            double bound = amax / 127 / 2 + amax * 0x1p-11 + 1e-30;
            for (int i = b * 32; i < b * 32 + 32; i++) assertEquals(x[i], t.getFloat(i), bound, "Q8_0 element " + i);
        }
    }

    @Test
    void q4_0ErrorIsBoundedByOneStepPerBlock() {
        float[] x = data(4);
        FloatTensor t = roundTrip(GgmlType.Q4_0, x);
        for (int b = 0; b < N / 32; b++) {
            float amax = blockMax(x, b);
            // values of the opposite sign to the block's largest clamp at 7 steps, so up to one step (amax / 8)
            double bound = amax / 8 + amax * 0x1p-10 + 1e-30;
            for (int i = b * 32; i < b * 32 + 32; i++) assertEquals(x[i], t.getFloat(i), bound, "Q4_0 element " + i);
        }
    }

    @Test
    void q4_0KeepsTheLargestWeightOfEachBlock() {
        float[] x = data(5);
        FloatTensor t = roundTrip(GgmlType.Q4_0, x);
        for (int b = 0; b < N / 32; b++) {
            int largest = b * 32;
            for (int i = b * 32; i < b * 32 + 32; i++) if (Math.abs(x[i]) > Math.abs(x[largest])) largest = i;
            assertEquals(x[largest], t.getFloat(largest), Math.abs(x[largest]) * 0x1p-10, "block " + b);
        }
    }

    @Test
    void rejectsUnsupportedTypesAndPartialBlocks() {
        float[] x = new float[256];
        var e = assertThrows(IllegalArgumentException.class, () -> Quantizer.quantize(GgmlType.Q4_K, x, 0, 256, new byte[1024], 0));
        assertTrue(e.getMessage().contains("Q4_K"), e.getMessage());
        assertThrows(RuntimeException.class, () -> Quantizer.quantize(GgmlType.Q8_0, x, 0, 33, new byte[1024], 0));
    }

    private static float blockMax(float[] x, int block) {
        float amax = 0;
        for (int i = block * 32; i < block * 32 + 32; i++) amax = Math.max(amax, Math.abs(x[i]));
        return amax;
    }
}
