package dev.lethe.engine.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.CountDownLatch;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures read bandwidth from main memory the way a decode step reads weights: {@code threads} threads each
 * sum their own contiguous slice of a large off-heap buffer with vector loads. A STREAM-like "read" kernel;
 * the best of several runs is the machine's practical ceiling for a memory-bound decode.
 *
 * <p>An instance keeps its buffer, so a benchmark can interleave single runs with its own measurements and
 * expose both to the same noise from other processes.
 */
public final class MemoryBandwidth implements AutoCloseable {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Large enough to defeat every cache level by far, small enough to allocate anywhere. */
    public static final long DEFAULT_BYTES = 1L << 30;
    @SuppressWarnings("unused")
    private static volatile float sink;

    private final Arena arena;
    private final MemorySegment buffer;
    private final int threads;

    private MemoryBandwidth(Arena arena, MemorySegment buffer, int threads) {
        this.arena = arena;
        this.buffer = buffer;
        this.threads = threads;
    }

    /** Allocates and touches a buffer of about {@code bytes}, and compiles the read loop. */
    public static MemoryBandwidth allocate(long bytes, int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be positive, got " + threads);
        long unit = (long) F.vectorByteSize() * 4 * threads;
        long size = bytes / unit * unit;
        if (size == 0) throw new IllegalArgumentException("buffer of " + bytes + " bytes is too small for " + threads + " threads");
        Arena arena = Arena.ofShared();
        MemorySegment buffer = arena.allocate(size, 64);
        buffer.fill((byte) 1); // touch every page, so the timed runs do not count page faults
        warmUp(buffer);
        return new MemoryBandwidth(arena, buffer, threads);
    }

    /** Best read bandwidth over {@code runs} passes, in GB/s (10^9 bytes per second). */
    public static double measure(long bytes, int threads, int runs) {
        if (runs < 1) throw new IllegalArgumentException("runs must be positive, got " + runs);
        try (MemoryBandwidth m = allocate(bytes, threads)) {
            double best = 0;
            for (int run = 0; run < runs; run++) best = Math.max(best, m.runOnce());
            return best;
        }
    }

    /** One pass over the buffer by all threads, in GB/s. */
    public double runOnce() {
        long slice = buffer.byteSize() / threads;
        float[] sums = new float[threads];
        CountDownLatch start = new CountDownLatch(1);
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers[t] = Thread.ofPlatform().name("bandwidth-" + t).start(() -> {
                awaitQuietly(start);
                sums[id] = sum(buffer, id * slice, slice);
            });
        }
        long begin = System.nanoTime();
        start.countDown();
        for (Thread w : workers) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while measuring bandwidth", e);
            }
        }
        long elapsed = System.nanoTime() - begin;
        float total = 0;
        for (float s : sums) total += s;
        sink = total; // a result someone could read, so the JIT cannot drop the loads
        return buffer.byteSize() / (double) elapsed;
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Gets {@link #sum} compiled by the optimising JIT on cached data, so no timed run measures the interpreter. */
    private static void warmUp(MemorySegment buffer) {
        float total = 0;
        long length = Math.min(buffer.byteSize(), 1 << 16) / (4L * F.vectorByteSize()) * (4L * F.vectorByteSize());
        for (int i = 0; i < 20_000; i++) total += sum(buffer, 0, length);
        sink = total;
    }

    /** Sum of the floats in {@code [offset, offset + length)}, with four independent accumulators. */
    private static float sum(MemorySegment m, long offset, long length) {
        long step = F.vectorByteSize();
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (long p = offset, end = offset + length; p < end; p += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, m, p, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(F, m, p + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(F, m, p + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(F, m, p + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
