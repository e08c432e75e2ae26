package dev.lethe.engine.tokenizer;

/**
 * Turns a stream of byte chunks (the bytes of generated tokens) into text, emitting only whole characters:
 * a character whose bytes are split across tokens comes out once its last byte arrives. Bytes that cannot
 * be part of valid UTF-8 come out as U+FFFD at once, one per maximal invalid subpart (the Unicode
 * recommendation, and what {@code new String(bytes, UTF_8)} does), so nothing is held back for longer than
 * a valid prefix of one character. Not thread-safe: one decoder per stream.
 */
public final class Utf8StreamDecoder {
    private static final char REPLACEMENT = '\uFFFD';

    /** Bytes of the character being assembled: a valid prefix, complete once it holds {@link #expected} bytes. */
    private final byte[] pending = new byte[4];
    private int pendingCount;
    /** Total length of the character being assembled (2..4), valid while pendingCount > 0. */
    private int expected;

    /** Adds bytes and returns the text of every character they complete (possibly empty). */
    public String push(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length);
        for (byte b : bytes) accept(b & 0xFF, out);
        return out.toString();
    }

    /** Ends the stream: an incomplete character left over becomes U+FFFD. */
    public String flush() {
        if (pendingCount == 0) return "";
        pendingCount = 0;
        return String.valueOf(REPLACEMENT);
    }

    /** True while the bytes of an incomplete character are held. */
    public boolean hasPending() {
        return pendingCount > 0;
    }

    private void accept(int b, StringBuilder out) {
        if (pendingCount > 0) {
            if (isValidContinuation(b)) {
                pending[pendingCount++] = (byte) b;
                if (pendingCount == expected) emitPending(out);
                return;
            }
            // The held bytes can no longer become a character; b starts afresh.
            pendingCount = 0;
            out.append(REPLACEMENT);
        }
        if (b < 0x80) {
            out.append((char) b);
        } else if (b >= 0xC2 && b <= 0xF4) {
            expected = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            pending[0] = (byte) b;
            pendingCount = 1;
        } else {
            out.append(REPLACEMENT); // a stray continuation byte, or a lead byte UTF-8 never uses
        }
    }

    /** Continuation bytes are 80..BF, narrowed after some lead bytes to exclude overlongs, surrogates and > U+10FFFF. */
    private boolean isValidContinuation(int b) {
        if (pendingCount == 1) {
            switch (pending[0] & 0xFF) {
                case 0xE0: return b >= 0xA0 && b <= 0xBF;
                case 0xED: return b >= 0x80 && b <= 0x9F;
                case 0xF0: return b >= 0x90 && b <= 0xBF;
                case 0xF4: return b >= 0x80 && b <= 0x8F;
                default: break;
            }
        }
        return b >= 0x80 && b <= 0xBF;
    }

    private void emitPending(StringBuilder out) {
        int cp = switch (expected) {
            case 2 -> (pending[0] & 0x1F) << 6 | (pending[1] & 0x3F);
            case 3 -> (pending[0] & 0x0F) << 12 | (pending[1] & 0x3F) << 6 | (pending[2] & 0x3F);
            default -> (pending[0] & 0x07) << 18 | (pending[1] & 0x3F) << 12 | (pending[2] & 0x3F) << 6 | (pending[3] & 0x3F);
        };
        out.appendCodePoint(cp);
        pendingCount = 0;
    }
}
