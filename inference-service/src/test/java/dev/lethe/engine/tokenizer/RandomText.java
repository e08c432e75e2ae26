package dev.lethe.engine.tokenizer;

import java.util.Random;

/** Seeded random text for round-trip tests: the scripts, symbols and white space that trip tokenizers up. */
final class RandomText {
    private RandomText() {}

    private static final String[] WHITESPACE = {" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\u00A0", "\u3000", " \n "};
    private static final String[] WORDS = {"Once", "upon", "a", "time", "there", "was", "little", "girl", "Lily", "the",
            "park", "said", "mom", "happy", "friend", "played", "ball", "didn't", "I'm", "1,000", "42"};

    /** A mix of ASCII, Latin-1, Cyrillic, CJK, emoji (outside the BMP), combining marks, controls and white space. */
    static String string(Random random, int codePoints) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < codePoints; i++) {
            switch (random.nextInt(10)) {
                case 0 -> sb.append(WHITESPACE[random.nextInt(WHITESPACE.length)]);
                case 1 -> sb.appendCodePoint(0x4E00 + random.nextInt(0x9FFF - 0x4E00)); // CJK
                case 2 -> sb.appendCodePoint(0x1F300 + random.nextInt(0x1FAFF - 0x1F300)); // emoji and pictographs
                case 3 -> sb.appendCodePoint(0x0300 + random.nextInt(0x70)); // combining marks
                case 4 -> sb.appendCodePoint(random.nextInt(0x20)); // C0 controls, NUL included
                case 5 -> sb.appendCodePoint(0xA0 + random.nextInt(0x60)); // Latin-1
                case 6 -> sb.appendCodePoint(0x0400 + random.nextInt(0x100)); // Cyrillic
                case 7 -> sb.appendCodePoint(0x10000 + random.nextInt(0x100000 - 0x10000)); // anything outside the BMP
                default -> sb.appendCodePoint(0x20 + random.nextInt(0x5F)); // printable ASCII
            }
        }
        return sb.toString();
    }

    /** Mostly words of a TinyStories vocabulary with punctuation and some non-ASCII, for comparing encoders. */
    static String storyLike(Random random, int length) {
        StringBuilder sb = new StringBuilder();
        while (sb.length() < length) {
            int r = random.nextInt(20);
            if (r < 14) sb.append(WORDS[random.nextInt(WORDS.length)]);
            else if (r < 17) sb.append(".,!?\"'-;:".charAt(random.nextInt(9)));
            else if (r < 18) sb.append("é…“”’—");
            else if (r < 19) sb.append("\n");
            else sb.append(string(random, 1));
            sb.append(random.nextInt(4) == 0 ? "" : " ");
        }
        return sb.toString();
    }
}
