package dev.lethe.engine.tensor;

import dev.lethe.engine.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/** Little-endian IEEE half-precision weights in a memory segment. */
public final class F16Tensor extends FloatTensor {
    private static final ValueLayout.OfShort LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final long size;

    public F16Tensor(MemorySegment data) {
        this.data = data;
        this.size = data.byteSize() / Short.BYTES;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public GgmlType type() {
        return GgmlType.F16;
    }

    @Override
    public float getFloat(long index) {
        return Float.float16ToFloat(data.get(LE, index * Short.BYTES));
    }

    @Override
    public float dot(long offset, float[] x, int xOffset, int n) {
        int step = Halves.F.length();
        int upper = Halves.F.loopBound(n);
        FloatVector acc0 = FloatVector.zero(Halves.F);
        FloatVector acc1 = FloatVector.zero(Halves.F);
        int i = 0;
        for (; i + step < upper; i += 2 * step) {
            FloatVector w0 = Halves.halfToFloat(ShortVector.fromMemorySegment(Halves.S, data, (offset + i) * Short.BYTES, ByteOrder.LITTLE_ENDIAN));
            FloatVector w1 = Halves.halfToFloat(ShortVector.fromMemorySegment(Halves.S, data, (offset + i + step) * Short.BYTES, ByteOrder.LITTLE_ENDIAN));
            acc0 = w0.fma(FloatVector.fromArray(Halves.F, x, xOffset + i), acc0);
            acc1 = w1.fma(FloatVector.fromArray(Halves.F, x, xOffset + i + step), acc1);
        }
        for (; i < upper; i += step) {
            FloatVector w = Halves.halfToFloat(ShortVector.fromMemorySegment(Halves.S, data, (offset + i) * Short.BYTES, ByteOrder.LITTLE_ENDIAN));
            acc0 = w.fma(FloatVector.fromArray(Halves.F, x, xOffset + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += getFloat(offset + i) * x[xOffset + i];
        return sum;
    }
}
