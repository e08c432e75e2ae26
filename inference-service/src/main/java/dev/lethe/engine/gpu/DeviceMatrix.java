package dev.lethe.engine.gpu;

import dev.lethe.engine.gguf.GgmlType;

/** A row-major {@code rows x cols} weight matrix on the device, in its GGUF storage type. */
public record DeviceMatrix(DeviceBuffer data, GgmlType type, int rows, int cols) {
    /** Storage types the matrix-vector kernels read. */
    public static boolean supports(GgmlType type) {
        return type == GgmlType.F32 || type == GgmlType.F16 || type == GgmlType.BF16 || type == GgmlType.Q8_0;
    }

    public DeviceMatrix {
        if (!supports(type)) throw new IllegalArgumentException("the GPU kernels do not read " + type + " weights");
        if (data.bytes() != type.bytesFor((long) rows * cols)) {
            throw new IllegalArgumentException(rows + "x" + cols + " " + type + " needs " + type.bytesFor((long) rows * cols)
                    + " bytes, the buffer has " + data.bytes());
        }
    }

    public long bytes() {
        return data.bytes();
    }
}
