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

/**
 * ggml's Q4_0: blocks of 32 weights, each a half-float scale followed by 16 bytes of 4-bit values. Weight
 * {@code j < 16} of a block is the low nibble of byte {@code j}, weight {@code j + 16} its high nibble;
 * w = (nibble - 8) * scale.
 */
public final class Q4_0Tensor extends FloatTensor {
    static final int BLOCK = 32;
    static final int BLOCK_BYTES = 2 + BLOCK / 2;
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Float> F = Halves.F;
    /** One byte per float lane, but at least 64 bits and at most the block's 16 bytes of nibbles. */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Math.min(128, Math.max(64, F.length() * Byte.SIZE))));
    private static final int PARTS = B.length() / F.length();

    private final MemorySegment data;
    private final long size;

    public Q4_0Tensor(MemorySegment data, long size) {
        this.data = data;
        this.size = size;
        if (data.byteSize() != GgmlType.Q4_0.bytesFor(size)) {
            throw new IllegalArgumentException("Q4_0 data of " + data.byteSize() + " bytes cannot hold " + size + " weights");
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
    }

    @Override
    public float getFloat(long index) {
        long base = index / BLOCK * BLOCK_BYTES;
        int j = (int) (index % BLOCK);
        float scale = Float.float16ToFloat(data.get(HALF, base));
        int packed = data.get(ValueLayout.JAVA_BYTE, base + 2 + j % (BLOCK / 2));
        int nibble = j < BLOCK / 2 ? packed & 0xF : (packed >> 4) & 0xF;
        return (nibble - 8) * scale;
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
        for (int j = 0; j < BLOCK / 2; j += B.length()) {
            ByteVector packed = ByteVector.fromMemorySegment(B, data, base + 2 + j, ByteOrder.LITTLE_ENDIAN);
            ByteVector low = packed.and((byte) 0xF).sub((byte) 8);
            ByteVector high = packed.lanewise(VectorOperators.LSHR, 4).and((byte) 0xF).sub((byte) 8);
            for (int p = 0; p < PARTS; p++) {
                int lane = j + p * F.length();
                FloatVector wLow = (FloatVector) low.convertShape(VectorOperators.B2F, F, p);
                FloatVector wHigh = (FloatVector) high.convertShape(VectorOperators.B2F, F, p);
                sum = wLow.fma(FloatVector.fromArray(F, x, xi + lane), sum);
                sum = wHigh.fma(FloatVector.fromArray(F, x, xi + BLOCK / 2 + lane), sum);
            }
        }
        float scale = Float.float16ToFloat(data.get(HALF, base));
        return sum.fma(FloatVector.broadcast(F, scale), acc);
    }
}
