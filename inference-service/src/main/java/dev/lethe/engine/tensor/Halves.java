package dev.lethe.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Widening 16-bit floats (IEEE half and bfloat16) to float32 lanes with integer operations, since the Vector
 * API has no half-float lane type. Shared by the F16 and BF16 tensors and by the quantized types' scales.
 */
final class Halves {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Shorts with as many lanes as {@link #F}, so one load widens to one float vector. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * Short.SIZE));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    private Halves() {}

    /**
     * IEEE half to float, exact for every finite half (subnormals included). Shifting the sign-extended half
     * left by 13 puts its exponent and mantissa where float32 keeps them; the exponent is then 112 too small,
     * which one multiplication by 2^112 fixes, and normalises half subnormals on the way. Infinities and NaNs
     * come out as large finite numbers: weights never hold them.
     */
    static FloatVector halfToFloat(ShortVector halves) {
        IntVector bits = (IntVector) halves.convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(0x1p112f);
    }

    /** bfloat16 to float: the top half of a float32's bits. */
    static FloatVector bf16ToFloat(ShortVector halves) {
        IntVector bits = (IntVector) halves.convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** float to bfloat16, rounding to nearest even; NaNs stay (quiet) NaNs. */
    static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) return (short) ((bits >>> 16) | 0x40);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }
}
