package dev.lethe.engine.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.gguf.GgmlType;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The host-side encodings the GPU self-test feeds its kernels: sizes, rounding and quantization error. */
class HostWeightsTest {
    private final Random random = new Random();

    private float[] gaussian(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) random.nextGaussian();
        return a;
    }

    @Test
    void f32AndF16RoundTripValuesTheyCanHold() {
        float[] w = gaussian(64);
        assertArrayEquals(w, HostWeights.decode(HostWeights.encode(w, GgmlType.F32), GgmlType.F32, 64));
        float[] halves = new float[64];
        for (int i = 0; i < 64; i++) halves[i] = Float.float16ToFloat(Float.floatToFloat16(w[i]));
        assertArrayEquals(halves, HostWeights.decode(HostWeights.encode(halves, GgmlType.F16), GgmlType.F16, 64));
    }

    @Test
    void bf16RoundsToNearestEven() {
        float exact = Float.intBitsToFloat(0x3f80_0000);           // 1.0
        float halfwayDown = Float.intBitsToFloat(0x3f80_8000);     // tie, even neighbour below
        float halfwayUp = Float.intBitsToFloat(0x3f81_8000);       // tie, even neighbour above
        float above = Float.intBitsToFloat(0x3f80_8001);           // just past the tie
        float[] got = HostWeights.decode(HostWeights.encode(new float[] {exact, halfwayDown, halfwayUp, above}, GgmlType.BF16), GgmlType.BF16, 4);
        assertArrayEquals(new float[] {exact, Float.intBitsToFloat(0x3f80_0000), Float.intBitsToFloat(0x3f82_0000),
                Float.intBitsToFloat(0x3f81_0000)}, got);
    }

    @Test
    void q8BlocksHoldEachWeightWithinHalfAStepPlusTheScalesRounding() {
        float[] w = gaussian(32 * 20);
        byte[] stored = HostWeights.encode(w, GgmlType.Q8_0);
        assertEquals(20 * 34, stored.length);
        float[] back = HostWeights.decode(stored, GgmlType.Q8_0, w.length);
        for (int b = 0; b < 20; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(w[b * 32 + i]));
            float step = amax / 127f;
            // half a step of rounding, plus the fp16 rounding of the stored step times at most 127
            double bound = 0.5 * step + 127 * Math.abs(Float.float16ToFloat(Float.floatToFloat16(step)) - step) + 1e-7;
            for (int i = 0; i < 32; i++) {
                float error = Math.abs(back[b * 32 + i] - w[b * 32 + i]);
                assertTrue(error <= bound, "block " + b + " weight " + i + ": error " + error + ", step " + step);
            }
        }
    }
}
