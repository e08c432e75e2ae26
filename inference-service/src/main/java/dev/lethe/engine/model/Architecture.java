package dev.lethe.engine.model;

import dev.lethe.engine.gguf.GgufFormatException;

/**
 * The transformer variants the engine runs. They share one forward pass and differ only in these switches.
 * {@code neoxRope}: rotate dimension pairs (i, i + headDim/2) instead of adjacent pairs (2i, 2i+1).
 */
public enum Architecture {
    LLAMA("llama", false, false, false),
    QWEN2("qwen2", true, true, false),
    QWEN3("qwen3", true, false, true);

    private final String ggufName;
    private final boolean neoxRope;
    private final boolean qkvBias;
    private final boolean qkNorm;

    Architecture(String ggufName, boolean neoxRope, boolean qkvBias, boolean qkNorm) {
        this.ggufName = ggufName;
        this.neoxRope = neoxRope;
        this.qkvBias = qkvBias;
        this.qkNorm = qkNorm;
    }

    public String ggufName() {
        return ggufName;
    }

    public boolean neoxRope() {
        return neoxRope;
    }

    public boolean qkvBias() {
        return qkvBias;
    }

    public boolean qkNorm() {
        return qkNorm;
    }

    public static Architecture fromGguf(String name) {
        for (Architecture a : values()) {
            if (a.ggufName.equals(name)) return a;
        }
        throw new GgufFormatException("unsupported model architecture '" + name + "' (supported: llama, qwen2, qwen3)");
    }
}
