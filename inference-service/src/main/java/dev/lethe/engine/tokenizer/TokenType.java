package dev.lethe.engine.tokenizer;

/** The kinds of vocabulary entries GGUF distinguishes in {@code tokenizer.ggml.token_type}. */
public enum TokenType {
    UNDEFINED, NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE;

    public static TokenType fromId(int id) {
        if (id < 0 || id >= values().length) {
            throw new IllegalArgumentException("unknown token type " + id + " in tokenizer.ggml.token_type (expected 0..6)");
        }
        return values()[id];
    }

    /** Tokens that stand for text the tokenizer's merges may produce (as opposed to markers and raw bytes). */
    boolean isText() {
        return this == NORMAL || this == UNDEFINED || this == UNUSED;
    }

    /** Tokens that are only produced from their literal text when the caller asks for special tokens. */
    boolean isSpecial() {
        return this == CONTROL || this == USER_DEFINED;
    }
}
