package dev.lethe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Utf8StreamDecoderTest {

    @Test
    void everyWayOfSplittingMultiByteCharactersGivesWholeCharactersOnly() {
        // 1 + 2 + 3 + 4 + 3 + 1 bytes: 14 bytes, so 2^13 ways to cut them into chunks.
        String text = "aé€😀東z";
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int cuts = bytes.length - 1;
        for (int mask = 0; mask < 1 << cuts; mask++) {
            Utf8StreamDecoder decoder = new Utf8StreamDecoder();
            StringBuilder out = new StringBuilder();
            int start = 0;
            for (int i = 0; i < bytes.length; i++) {
                if (i == bytes.length - 1 || (mask & 1 << i) != 0) {
                    String chunk = decoder.push(Arrays.copyOfRange(bytes, start, i + 1));
                    out.append(chunk);
                    // What has come out so far is exactly the characters whose bytes have all arrived.
                    assertEquals(completePrefix(text, i + 1), out.toString(), "cut mask " + mask);
                    assertWellFormed(chunk);
                    start = i + 1;
                }
            }
            assertEquals("", decoder.flush());
            assertEquals(text, out.toString());
        }
    }

    @Test
    void randomBytesInRandomChunksDecodeLikeJavasDecoder() {
        Random random = new Random(8);
        for (int n = 0; n < 3000; n++) {
            byte[] bytes = randomBytes(random, random.nextInt(40));
            Utf8StreamDecoder decoder = new Utf8StreamDecoder();
            StringBuilder out = new StringBuilder();
            for (int start = 0; start < bytes.length; ) {
                int end = Math.min(bytes.length, start + 1 + random.nextInt(4));
                out.append(decoder.push(Arrays.copyOfRange(bytes, start, end)));
                start = end;
            }
            out.append(decoder.flush());
            assertEquals(new String(bytes, StandardCharsets.UTF_8), out.toString(), () -> Arrays.toString(bytes));
        }
    }

    @Test
    void invalidBytesAreReplacedAtOnceNotHeld() {
        Utf8StreamDecoder decoder = new Utf8StreamDecoder();
        assertEquals("\uFFFD", decoder.push(new byte[] {(byte) 0x80}), "a stray continuation byte");
        assertEquals("", decoder.push(new byte[] {(byte) 0xE2}));
        assertTrue(decoder.hasPending());
        assertEquals("\uFFFDA", decoder.push(new byte[] {'A'}), "a lead byte cut short by ASCII");
        assertFalse(decoder.hasPending());
        assertEquals("\uFFFD\uFFFD", decoder.push(new byte[] {(byte) 0xC0, (byte) 0xFF}), "bytes UTF-8 never uses");
        assertEquals("\uFFFD\uFFFD", decoder.push(new byte[] {(byte) 0xED, (byte) 0xA0}), "a surrogate is not a character");
        assertEquals("", decoder.push(new byte[] {(byte) 0xF0, (byte) 0x9F}));
        assertEquals("\uFFFD", decoder.flush(), "an incomplete character at the end");
        assertEquals("", decoder.flush());
    }

    /** Bytes that are mostly valid UTF-8 of random characters, with random bytes and truncations mixed in. */
    private static byte[] randomBytes(Random random, int pieces) {
        var out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < pieces; i++) {
            byte[] ch = RandomText.string(random, 1).getBytes(StandardCharsets.UTF_8);
            switch (random.nextInt(6)) {
                case 0 -> out.write(random.nextInt(256));
                case 1 -> out.write(ch, 0, Math.max(1, random.nextInt(ch.length + 1)));
                default -> out.writeBytes(ch);
            }
        }
        return out.toByteArray();
    }

    private static String completePrefix(String text, int byteCount) {
        StringBuilder sb = new StringBuilder();
        int used = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int len = Character.toString(cp).getBytes(StandardCharsets.UTF_8).length;
            if (used + len > byteCount) break;
            sb.appendCodePoint(cp);
            used += len;
            i += Character.charCount(cp);
        }
        return sb.toString();
    }

    private static void assertWellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            assertFalse(c == '\uFFFD', "replacement character in " + s);
            if (Character.isHighSurrogate(c)) {
                assertTrue(i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1)), "half a surrogate pair");
                i++;
            } else {
                assertFalse(Character.isLowSurrogate(c), "half a surrogate pair");
            }
        }
    }
}
