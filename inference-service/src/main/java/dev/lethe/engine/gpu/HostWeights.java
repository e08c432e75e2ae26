package dev.lethe.engine.gpu;

import dev.lethe.engine.gguf.GgmlType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Encodes float weights in GGUF storage types and decodes them back, on the host: the inputs of the GPU
 * self-test and the dequantization its CPU references use (the CPU engine reads only F32 so far).
 */
final class HostWeights {
    private HostWeights() {}

    /** The bytes of {@code w} stored as {@code type} (F32, F16, BF16 with round-to-nearest-even, or Q8_0). */
    static byte[] encode(float[] w, GgmlType type) {
        ByteBuffer out = ByteBuffer.allocate((int) type.bytesFor(w.length)).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> { for (float f : w) out.putFloat(f); }
            case F16 -> { for (float f : w) out.putShort(Float.floatToFloat16(f)); }
            case BF16 -> {
                for (float f : w) {
                    int bits = Float.floatToRawIntBits(f);
                    out.putShort((short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16));
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < w.length; b += 32) {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(w[b + i]));
                    float d = amax / 127f;
                    short d16 = Float.floatToFloat16(d);
                    float inv = d == 0 ? 0 : 1f / d;
                    out.putShort(d16);
                    for (int i = 0; i < 32; i++) out.put((byte) Math.round(w[b + i] * inv));
                }
            }
            default -> throw new IllegalArgumentException("cannot encode " + type);
        }
        return out.array();
    }

    /** The floats stored in {@code bytes} of the given type. */
    static float[] decode(byte[] bytes, GgmlType type, int count) {
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        float[] w = new float[count];
        switch (type) {
            case F32 -> { for (int i = 0; i < count; i++) w[i] = in.getFloat(); }
            case F16 -> { for (int i = 0; i < count; i++) w[i] = Float.float16ToFloat(in.getShort()); }
            case BF16 -> { for (int i = 0; i < count; i++) w[i] = Float.intBitsToFloat((in.getShort() & 0xffff) << 16); }
            case Q8_0 -> {
                for (int b = 0; b < count; b += 32) {
                    float d = Float.float16ToFloat(in.getShort());
                    for (int i = 0; i < 32; i++) w[b + i] = d * in.get();
                }
            }
            default -> throw new IllegalArgumentException("cannot decode " + type);
        }
        return w;
    }
}
