package dev.lethe.engine.tensor;

import dev.lethe.engine.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** ggml's Q8_0: blocks of 32 weights, each a half-float scale followed by 32 signed bytes; w = q * scale. */
public final class Q8_0Tensor extends FloatTensor {
    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 2 + BLOCK;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> F = Halves.F;
    /** One byte per float lane, but at least 64 bits (the smallest byte vector); the widening then takes parts. */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, F.length() * Byte.SIZE)));
    private static final int PARTS = B.length() / F.length();

    private final MemorySegment data;
    private final long size;

    public Q8_0Tensor(MemorySegment data, long size) {
        this.data = data;
        this.size = size;
        if (data.byteSize() != GgmlType.Q8_0.bytesFor(size)) {
            throw new IllegalArgumentException("Q8_0 data of " + data.byteSize() + " bytes cannot hold " + size + " weights");
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
    }

    @Override
    public float getFloat(long index) {
        long base = index / BLOCK * BLOCK_BYTES;
        float scale = Float.float16ToFloat(data.get(HALF, base));
        return data.get(ValueLayout.JAVA_BYTE, base + 2 + index % BLOCK) * scale;
    }

    @Override
    public float dot(long offset, float[] x, int xOffset, int n) {
        int blocks = n / BLOCK;
        long base = offset / BLOCK * BLOCK_BYTES;
        // Two accumulators, even and odd blocks, so consecutive blocks do not wait on each other's FMA.
        FloatVector even = FloatVector.zero(F);
        FloatVector odd = FloatVector.zero(F);
        int b = 0;
        for (; b + 1 < blocks; b += 2, base += 2 * BLOCK_BYTES) {
            even = block(base, x, xOffset + b * BLOCK, even);
            odd = block(base + BLOCK_BYTES, x, xOffset + (b + 1) * BLOCK, odd);
        }
        if (b < blocks) even = block(base, x, xOffset + b * BLOCK, even);
        float sum = even.add(odd).reduceLanes(VectorOperators.ADD);
        for (int i = blocks * BLOCK; i < n; i++) sum += getFloat(offset + i) * x[xOffset + i];
        return sum;
    }

    /** {@code acc + scale * (the block at byte {@code base}) . x[xi ..]}, lane-wise: sums the quants first, scales once. */
    private FloatVector block(long base, float[] x, int xi, FloatVector acc) {
        FloatVector sum = FloatVector.zero(F);
        for (int j = 0; j < BLOCK; j += B.length()) {
            ByteVector q = ByteVector.fromMemorySegment(B, data, base + 2 + j, ByteOrder.LITTLE_ENDIAN);
            for (int p = 0; p < PARTS; p++) {
                FloatVector w = (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
                sum = w.fma(FloatVector.fromArray(F, x, xi + j + p * F.length()), sum);
            }
        }
        float scale = Float.float16ToFloat(data.get(HALF, base));
        return sum.fma(FloatVector.broadcast(F, scale), acc);
    }
}
