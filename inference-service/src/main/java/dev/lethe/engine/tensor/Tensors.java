package dev.lethe.engine.tensor;

import dev.lethe.engine.gguf.GgufFormatException;
import dev.lethe.engine.gguf.GgufTensorInfo;

/** Wraps a GGUF tensor's bytes in the {@link FloatTensor} of its storage type. */
public final class Tensors {
    private Tensors() {}

    public static FloatTensor of(GgufTensorInfo info) {
        return switch (info.type()) {
            case F32 -> new F32Tensor(info.data());
            default -> throw new GgufFormatException("tensor '" + info.name() + "' has weight type " + info.type()
                    + ", which this engine does not support");
        };
    }
}
