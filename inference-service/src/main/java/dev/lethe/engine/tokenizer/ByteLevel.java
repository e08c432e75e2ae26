package dev.lethe.engine.tokenizer;

import java.util.Arrays;

/**
 * GPT-2's reversible map from bytes to printable characters, in which byte-level BPE vocabularies are
 * written: printable Latin-1 bytes stand for themselves, the other 68 bytes (controls, space, DEL, NBSP,
 * soft hyphen) take the characters U+0100 onwards in byte order, so a space is "Ġ" (U+0120).
 */
final class ByteLevel {
    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[256 + 68];

    static {
        Arrays.fill(CHAR_TO_BYTE, -1);
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = (char) (printable ? b : 256 + shifted++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevel() {}

    /** The byte-level spelling of some bytes: one character per byte. */
    static String encode(byte[] bytes) {
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) chars[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        return new String(chars);
    }

    static char charOf(int b) {
        return BYTE_TO_CHAR[b];
    }

    /** The byte a character of the byte-level alphabet stands for, or -1 for a character outside it. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }
}
