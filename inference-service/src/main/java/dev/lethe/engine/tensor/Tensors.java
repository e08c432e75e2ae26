package dev.lethe.engine.tensor;

import dev.lethe.engine.gguf.GgufFormatException;
import dev.lethe.engine.gguf.GgufTensorInfo;

/** Wraps a GGUF tensor's bytes in the {@link FloatTensor} of its storage type. */
public final class Tensors {
    private Tensors() {}

    public static FloatTensor of(GgufTensorInfo info) {
        return switch (info.type()) {
            case F32 -> new F32Tensor(info.data());
            case F16 -> new F16Tensor(info.data());
            case BF16 -> new BF16Tensor(info.data());
            case Q8_0 -> new Q8_0Tensor(info.data(), info.elementCount());
            case Q4_0 -> new Q4_0Tensor(info.data(), info.elementCount());
            default -> throw new GgufFormatException("tensor '" + info.name() + "' has weight type " + info.type()
                    + ", which this engine does not support (supported: F32, F16, BF16, Q8_0, Q4_0)");
        };
    }
}
