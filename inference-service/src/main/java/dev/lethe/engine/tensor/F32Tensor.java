package dev.lethe.engine.tensor;

import dev.lethe.engine.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Little-endian float32 weights in a memory segment. */
public final class F32Tensor extends FloatTensor {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final long size;

    public F32Tensor(MemorySegment data) {
        this.data = data;
        this.size = data.byteSize() / Float.BYTES;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public GgmlType type() {
        return GgmlType.F32;
    }

    @Override
    public float getFloat(long index) {
        return data.get(LE, index * Float.BYTES);
    }

    @Override
    public float dot(long offset, float[] x, int xOffset, int n) {
        int upper = SPECIES.loopBound(n);
        FloatVector acc0 = FloatVector.zero(SPECIES);
        FloatVector acc1 = FloatVector.zero(SPECIES);
        int i = 0;
        int step = SPECIES.length();
        for (; i + step < upper; i += 2 * step) {
            FloatVector w0 = FloatVector.fromMemorySegment(SPECIES, data, (offset + i) * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
            FloatVector w1 = FloatVector.fromMemorySegment(SPECIES, data, (offset + i + step) * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
            acc0 = w0.fma(FloatVector.fromArray(SPECIES, x, xOffset + i), acc0);
            acc1 = w1.fma(FloatVector.fromArray(SPECIES, x, xOffset + i + step), acc1);
        }
        for (; i < upper; i += step) {
            FloatVector w = FloatVector.fromMemorySegment(SPECIES, data, (offset + i) * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
            acc0 = w.fma(FloatVector.fromArray(SPECIES, x, xOffset + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += getFloat(offset + i) * x[xOffset + i];
        return sum;
    }

    @Override
    public void copyTo(long offset, float[] out, int outOffset, int n) {
        MemorySegment.copy(data, LE, offset * Float.BYTES, out, outOffset, n);
    }
}
