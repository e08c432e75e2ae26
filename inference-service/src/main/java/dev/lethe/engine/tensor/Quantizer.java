package dev.lethe.engine.tensor;

import dev.lethe.engine.gguf.GgmlType;

/**
 * Converts float32 weights to the byte layout of a GGUF storage type, as ggml's reference quantizers do.
 * Used to write model files; the inverse is the matching {@link FloatTensor}'s {@code getFloat}.
 */
public final class Quantizer {
    private Quantizer() {}

    /** Whether {@link #quantize} can produce this type. */
    public static boolean supports(GgmlType type) {
        return switch (type) {
            case F32, F16, BF16, Q8_0, Q4_0 -> true;
            default -> false;
        };
    }

    /**
     * Writes {@code src[srcOffset .. srcOffset + n)} in {@code type}'s layout to {@code dst} from {@code dstOffset}
     * and returns the number of bytes written. {@code n} must be a multiple of the type's block size.
     */
    public static int quantize(GgmlType type, float[] src, int srcOffset, int n, byte[] dst, int dstOffset) {
        int bytes = Math.toIntExact(type.bytesFor(n));
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) putInt(dst, dstOffset + 4 * i, Float.floatToRawIntBits(src[srcOffset + i]));
            }
            case F16 -> {
                for (int i = 0; i < n; i++) putShort(dst, dstOffset + 2 * i, Float.floatToFloat16(src[srcOffset + i]));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) putShort(dst, dstOffset + 2 * i, Halves.floatToBf16(src[srcOffset + i]));
            }
            case Q8_0 -> {
                for (int b = 0; b < n / Q8_0Tensor.BLOCK; b++) {
                    q8_0Block(src, srcOffset + b * Q8_0Tensor.BLOCK, dst, dstOffset + b * Q8_0Tensor.BLOCK_BYTES);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < n / Q4_0Tensor.BLOCK; b++) {
                    q4_0Block(src, srcOffset + b * Q4_0Tensor.BLOCK, dst, dstOffset + b * Q4_0Tensor.BLOCK_BYTES);
                }
            }
            default -> throw new IllegalArgumentException("cannot quantize to " + type + " (supported: F32, F16, BF16, Q8_0, Q4_0)");
        }
        return bytes;
    }

    /** scale = max|x| / 127, q = round(x / scale): the largest weight maps to +-127 exactly. */
    private static void q8_0Block(float[] src, int s, byte[] dst, int d) {
        float amax = 0;
        for (int i = 0; i < Q8_0Tensor.BLOCK; i++) amax = Math.max(amax, Math.abs(src[s + i]));
        float scale = amax / 127;
        float inverse = scale != 0 ? 1 / scale : 0;
        putShort(dst, d, Float.floatToFloat16(scale));
        for (int i = 0; i < Q8_0Tensor.BLOCK; i++) dst[d + 2 + i] = (byte) Math.round(src[s + i] * inverse);
    }

    /**
     * scale = (the weight of largest magnitude, with its sign) / -8, so that weight becomes nibble 0 exactly and
     * the 16 levels -8..7 cover the block; weights of the other sign clamp at 7.
     */
    private static void q4_0Block(float[] src, int s, byte[] dst, int d) {
        float max = 0;
        for (int i = 0; i < Q4_0Tensor.BLOCK; i++) {
            if (Math.abs(src[s + i]) > Math.abs(max)) max = src[s + i];
        }
        float scale = max / -8;
        float inverse = scale != 0 ? 1 / scale : 0;
        putShort(dst, d, Float.floatToFloat16(scale));
        int half = Q4_0Tensor.BLOCK / 2;
        for (int j = 0; j < half; j++) {
            int low = Math.min(15, (int) (src[s + j] * inverse + 8.5f));
            int high = Math.min(15, (int) (src[s + half + j] * inverse + 8.5f));
            dst[d + 2 + j] = (byte) (low | high << 4);
        }
    }

    private static void putShort(byte[] dst, int at, short v) {
        dst[at] = (byte) v;
        dst[at + 1] = (byte) (v >> 8);
    }

    private static void putInt(byte[] dst, int at, int v) {
        dst[at] = (byte) v;
        dst[at + 1] = (byte) (v >> 8);
        dst[at + 2] = (byte) (v >> 16);
        dst[at + 3] = (byte) (v >> 24);
    }
}
