package dev.lethe.engine.tensor;

/**
 * Matrix products against weight tensors, split over rows between the threads of a {@link WorkerPool}. A
 * weight matrix of {@code rows x cols} is stored row-major ({@code W[r][c]} at {@code r * cols + c}).
 *
 * <p>A single-sequence decode step reads every weight once and does two flops per weight, so it is bound by
 * memory bandwidth: the threads take contiguous runs of rows so each streams its own stretch of memory.
 */
public final class MatVec {
    /** Below this many multiply-adds a product is not worth waking other threads for (a wake-up is microseconds). */
    private static final long PARALLEL_MIN_WORK = 1 << 15;
    /** Runs of rows per thread: a few, so a thread slowed by a noisy neighbour does not hold up the others. */
    private static final int CHUNKS_PER_THREAD = 4;

    private MatVec() {}

    /** Threads a large product runs on, the caller included: {@code -Dlethe.threads}, by default every processor. */
    public static int threads() {
        return WorkerPool.shared().threads();
    }

    /** {@code out[b * rows + r] = sum_c W[r][c] * x[b * cols + c]} for each of {@code batch} input vectors. */
    public static void multiply(FloatTensor w, int rows, int cols, float[] x, float[] out, int batch) {
        if ((long) rows * cols > w.size() || (long) batch * cols > x.length || (long) batch * rows > out.length) {
            throw new IllegalArgumentException("product of a " + rows + "x" + cols + " matrix (tensor of " + w.size()
                    + " elements) with " + batch + " vector(s) does not fit x[" + x.length + "] / out[" + out.length + "]");
        }
        WorkerPool pool = WorkerPool.shared();
        int threads = pool.threads();
        if (threads == 1 || rows < 2 * threads || (long) rows * cols * batch < PARALLEL_MIN_WORK) {
            rows(w, 0, rows, rows, cols, x, out, batch);
            return;
        }
        int chunks = Math.min(rows, threads * CHUNKS_PER_THREAD);
        pool.run(chunks, c -> rows(w, (int) ((long) rows * c / chunks), (int) ((long) rows * (c + 1) / chunks), rows, cols, x, out, batch));
    }

    /** Rows {@code [from, to)}, each weight row used for the whole batch while it is still in cache. */
    private static void rows(FloatTensor w, int from, int to, int rows, int cols, float[] x, float[] out, int batch) {
        for (int r = from; r < to; r++) {
            long offset = (long) r * cols;
            for (int b = 0; b < batch; b++) {
                out[b * rows + r] = w.dot(offset, x, b * cols, cols);
            }
        }
    }
}
