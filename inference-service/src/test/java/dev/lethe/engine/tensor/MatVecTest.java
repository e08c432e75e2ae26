package dev.lethe.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.gguf.GgufTensorInfo;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MatVecTest {

    private static FloatTensor randomMatrix(GgmlType type, int rows, int cols, Random random) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) random.nextGaussian();
        byte[] bytes = new byte[(int) type.bytesFor(w.length)];
        Quantizer.quantize(type, w, 0, w.length, bytes, 0);
        return Tensors.of(new GgufTensorInfo("w", new long[] {cols, rows}, type, 0, MemorySegment.ofArray(bytes)));
    }

    private static void check(GgmlType type, int rows, int cols, int batch) {
        Random random = new Random(rows * 31L + cols + batch);
        FloatTensor w = randomMatrix(type, rows, cols, random);
        float[] x = new float[batch * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        float[] out = new float[batch * rows + 1];
        out[batch * rows] = 42; // past the result: must stay untouched
        MatVec.multiply(w, rows, cols, x, out, batch);
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < rows; r++) {
                double expected = 0;
                double magnitude = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) w.getFloat((long) r * cols + c) * x[b * cols + c];
                    expected += p;
                    magnitude += Math.abs(p);
                }
                assertEquals(expected, out[b * rows + r], 1e-5 * magnitude, type + " row " + r + " of batch item " + b);
            }
        }
        assertEquals(42, out[batch * rows]);
    }

    @Test
    void smallProductsRunOnTheCaller() {
        check(GgmlType.F32, 5, 17, 1);
        check(GgmlType.F16, 3, 64, 2);
    }

    @Test
    void largeProductsSplitOverThreadsGiveTheSameResult() {
        check(GgmlType.F32, 517, 96, 1);
        check(GgmlType.Q8_0, 300, 256, 3);
        check(GgmlType.Q4_0, 257, 128, 4);
        check(GgmlType.BF16, 1000, 64, 1);
    }

    @Test
    void aFailingRowIsRethrownAndThePoolStaysUsable() {
        IllegalStateException boom = new IllegalStateException("boom");
        FloatTensor failing = new FloatTensor() {
            @Override public long size() { return 1 << 20; }
            @Override public GgmlType type() { return GgmlType.F32; }
            @Override public float getFloat(long index) { return 0; }
            @Override public float dot(long offset, float[] x, int xOffset, int n) {
                if (offset == 700L * 1024) throw boom;
                return 1;
            }
        };
        float[] x = new float[1024];
        float[] out = new float[1024];
        assertSame(boom, assertThrows(IllegalStateException.class, () -> MatVec.multiply(failing, 1024, 1024, x, out, 1)));
        check(GgmlType.F32, 400, 128, 1);
    }

    @Test
    void rejectsArraysTooSmallForTheProduct() {
        FloatTensor w = randomMatrix(GgmlType.F32, 4, 8, new Random(1));
        assertThrows(IllegalArgumentException.class, () -> MatVec.multiply(w, 4, 8, new float[7], new float[4], 1));
        assertThrows(IllegalArgumentException.class, () -> MatVec.multiply(w, 4, 8, new float[8], new float[3], 1));
        assertThrows(IllegalArgumentException.class, () -> MatVec.multiply(w, 5, 8, new float[8], new float[5], 1));
    }
}
