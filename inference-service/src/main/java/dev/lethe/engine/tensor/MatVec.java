package dev.lethe.engine.tensor;

import java.util.stream.IntStream;

/**
 * Matrix products against weight tensors, split over rows between threads. A weight matrix of
 * {@code rows x cols} is stored row-major ({@code W[r][c]} at {@code r * cols + c}).
 */
public final class MatVec {
    /** Below this many rows a product is not worth splitting between threads. */
    private static final int PARALLEL_MIN_ROWS = 64;

    private MatVec() {}

    /** {@code out[b * rows + r] = sum_c W[r][c] * x[b * cols + c]} for each of {@code batch} input vectors. */
    public static void multiply(FloatTensor w, int rows, int cols, float[] x, float[] out, int batch) {
        if (rows < PARALLEL_MIN_ROWS) {
            for (int r = 0; r < rows; r++) row(w, r, cols, x, out, batch, rows);
        } else {
            IntStream.range(0, rows).parallel().forEach(r -> row(w, r, cols, x, out, batch, rows));
        }
    }

    private static void row(FloatTensor w, int r, int cols, float[] x, float[] out, int batch, int rows) {
        long offset = (long) r * cols;
        for (int b = 0; b < batch; b++) {
            out[b * rows + r] = w.dot(offset, x, b * cols, cols);
        }
    }
}
