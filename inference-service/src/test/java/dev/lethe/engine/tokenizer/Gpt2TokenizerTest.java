package dev.lethe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class Gpt2TokenizerTest {

    @ParameterizedTest
    @EnumSource(PreTokenizer.class)
    void decodeUndoesEncodeForRandomUnicode(PreTokenizer pre) {
        SyntheticBpe.Model model = SyntheticBpe.learn(pre, 300);
        Gpt2Tokenizer tokenizer = SyntheticBpe.tokenizer(model, pre, true);
        Random random = new Random(pre.ordinal());
        for (int i = 0; i < 500; i++) {
            String s = RandomText.string(random, random.nextInt(60));
            int[] ids = tokenizer.encode(s, false, false);
            assertEquals(s, tokenizer.decode(ids), () -> "ids " + Arrays.toString(ids));
        }
    }

    @ParameterizedTest
    @EnumSource(PreTokenizer.class)
    void mergesMatchGpt2sReferenceAlgorithm(PreTokenizer pre) {
        SyntheticBpe.Model model = SyntheticBpe.learn(pre, 300);
        Gpt2Tokenizer tokenizer = SyntheticBpe.tokenizer(model, pre, false);
        Random random = new Random(100 + pre.ordinal());
        for (int i = 0; i < 300; i++) {
            String s = i % 2 == 0 ? RandomText.storyLike(random, 1 + random.nextInt(200)) : RandomText.string(random, random.nextInt(60));
            assertArrayEquals(SyntheticBpe.referenceEncode(model, pre, s), tokenizer.encode(s, false, false), s);
        }
        // The learned merges must do real work, or the comparison above would be vacuous.
        String text = "Once upon a time, there was a little girl named Lily.";
        assertTrue(tokenizer.encode(text, false, false).length < text.length() / 2);
    }

    @Test
    void theMergeListedFirstWins() {
        String[] tokens = withBytes("bc", "ab");
        int[] types = new int[tokens.length];
        Arrays.fill(types, 1);
        Vocabulary vocab = Vocabulary.of(tokens, types);
        SpecialTokens none = SpecialTokens.resolve(vocab, -1, -1, false);
        Gpt2Tokenizer bcFirst = new Gpt2Tokenizer(vocab, new String[] {"b c", "a b"}, PreTokenizer.GPT2, none);
        Gpt2Tokenizer abFirst = new Gpt2Tokenizer(vocab, new String[] {"a b", "b c"}, PreTokenizer.GPT2, none);
        assertArrayEquals(new int[] {'a', 256}, bcFirst.encode("abc", false, false));
        assertArrayEquals(new int[] {257, 'c'}, abFirst.encode("abc", false, false));
    }

    @Test
    void tokensAreWrittenInGpt2sByteAlphabet() {
        String[] tokens = withBytes("Ġh", "Ġhi", "Ċ");
        Vocabulary vocab = Vocabulary.of(tokens, null);
        Gpt2Tokenizer tokenizer = new Gpt2Tokenizer(vocab, new String[] {"Ġ h", "Ġh i"}, PreTokenizer.GPT2,
                SpecialTokens.resolve(vocab, -1, -1, false));
        assertArrayEquals(new int[] {257}, tokenizer.encode(" hi", false, false));
        assertArrayEquals(" hi".getBytes(StandardCharsets.UTF_8), tokenizer.tokenBytes(257));
        assertArrayEquals(new byte[] {'\n'}, tokenizer.tokenBytes(258));
        assertArrayEquals(new byte[] {(byte) 0xFF}, tokenizer.tokenBytes(0xFF), "byte 0xFF is 'ÿ' in the alphabet");
        assertArrayEquals(new byte[] {0}, tokenizer.tokenBytes(0), "byte 0 is 'Ā' in the alphabet");
    }

    @Test
    void preTokenizersCutTheWayTheirModelsDo() {
        String text = "Hello world's 12345 I'M ok!!\n\n  end";
        assertEquals(List.of("Hello", " world", "'s", " 12345", " I", "'", "M", " ok", "!!", "\n\n ", " end"), pieces(PreTokenizer.GPT2, text));
        assertEquals(List.of("Hello", " world", "'s", " ", "123", "45", " I", "'M", " ok", "!!\n\n", " ", " end"), pieces(PreTokenizer.LLAMA3, text));
        assertEquals(List.of("Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " I", "'M", " ok", "!!\n\n", " ", " end"), pieces(PreTokenizer.QWEN2, text));
        assertEquals(List.of("東京", "。", "\u3000", "Привет"), pieces(PreTokenizer.GPT2, "東京。\u3000Привет"), "Unicode letters and white space");
    }

    @Test
    void specialTokensAreParsedOnlyWhenAsked() {
        SyntheticBpe.Model model = SyntheticBpe.learn(PreTokenizer.QWEN2, 100);
        Gpt2Tokenizer tokenizer = SyntheticBpe.tokenizer(model, PreTokenizer.QWEN2, false);
        int imEnd = tokenizer.specialTokenId("<|im_end|>");
        int tool = tokenizer.specialTokenId("<tool>");
        assertEquals(model.id("<|im_end|>"), imEnd);

        String text = "Lily<|im_end|>\nsaid <tool>hi";
        int[] plain = tokenizer.encode(text, false, false);
        assertFalse(IntStream.of(plain).anyMatch(id -> id == imEnd || id == tool), Arrays.toString(plain));
        assertEquals(text, tokenizer.decode(plain));

        int[] parsed = tokenizer.encode(text, false, true);
        int[] expected = IntStream.concat(IntStream.concat(IntStream.of(tokenizer.encode("Lily", false, false)), IntStream.of(imEnd)),
                IntStream.concat(IntStream.of(tokenizer.encode("\nsaid ", false, false)),
                        IntStream.concat(IntStream.of(tool), IntStream.of(tokenizer.encode("hi", false, false))))).toArray();
        assertArrayEquals(expected, parsed);
        assertEquals("Lily\nsaid <tool>hi", tokenizer.decode(parsed), "control tokens decode to nothing, user-defined ones to their text");
    }

    @Test
    void theLongestSpecialTokenWins() {
        String[] tokens = withBytes("<|a|>", "<|a|>b");
        int[] types = new int[tokens.length];
        Arrays.fill(types, 1);
        types[256] = 3;
        types[257] = 4;
        Vocabulary vocab = Vocabulary.of(tokens, types);
        Gpt2Tokenizer tokenizer = new Gpt2Tokenizer(vocab, new String[0], PreTokenizer.GPT2, SpecialTokens.resolve(vocab, -1, -1, false));
        assertArrayEquals(new int[] {257, 256, 'c'}, tokenizer.encode("<|a|>b<|a|>c", false, true));
    }

    @Test
    void bosIsAddedOnlyWhenTheModelWantsIt() {
        SyntheticBpe.Model model = SyntheticBpe.learn(PreTokenizer.LLAMA3, 50);
        int bos = model.id("<|begin_of_text|>");
        Gpt2Tokenizer wants = SyntheticBpe.tokenizer(model, PreTokenizer.LLAMA3, true);
        Gpt2Tokenizer doesNot = SyntheticBpe.tokenizer(model, PreTokenizer.LLAMA3, false);
        assertEquals(bos, wants.encode("hi", true, false)[0]);
        assertArrayEquals(wants.encode("hi", false, false), doesNot.encode("hi", true, false));
        assertArrayEquals(new int[] {bos}, wants.encode("", true, false));
        assertEquals("hi", wants.decode(wants.encode("hi", true, false)), "BOS decodes to nothing, and no space is stripped");
    }

    @Test
    void endOfTurnTokensEndGeneration() {
        SyntheticBpe.Model model = SyntheticBpe.learn(PreTokenizer.QWEN2, 10);
        Gpt2Tokenizer tokenizer = SyntheticBpe.tokenizer(model, PreTokenizer.QWEN2, false);
        assertTrue(tokenizer.isEndOfGeneration(model.id("<|endoftext|>")));
        assertTrue(tokenizer.isEndOfGeneration(model.id("<|im_end|>")));
        assertTrue(tokenizer.isEndOfGeneration(model.id("<|eot_id|>")));
        assertFalse(tokenizer.isEndOfGeneration(model.id("<|im_start|>")));
        assertFalse(tokenizer.isEndOfGeneration('a'));
    }

    /**
     * Guards against work quadratic in a piece's or run's length (minutes at these lengths), not a speed
     * measurement: linear encoding takes a few seconds here, so the bound leaves a wide margin for a loaded machine.
     */
    @Test
    void longInputsEncodeQuickly() {
        SyntheticBpe.Model model = SyntheticBpe.learn(PreTokenizer.LLAMA3, 300);
        Gpt2Tokenizer tokenizer = SyntheticBpe.tokenizer(model, PreTokenizer.LLAMA3, false);
        String prose = RandomText.storyLike(new Random(3), 300_000);
        String oneHugePiece = "ab".repeat(50_000); // one pre-token piece, too long to cache: only the merge loop
        String whitespaceRun = " \t".repeat(50_000) + "x"; // the regex's look-ahead alternative on a long run
        long start = System.nanoTime();
        int[] proseIds = tokenizer.encode(prose, false, false);
        int[] pieceIds = tokenizer.encode(oneHugePiece, false, false);
        int[] whitespaceIds = tokenizer.encode(whitespaceRun, false, false);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(prose, tokenizer.decode(proseIds));
        assertEquals(oneHugePiece, tokenizer.decode(pieceIds));
        assertEquals(whitespaceRun, tokenizer.decode(whitespaceIds));
        assertTrue(millis < 60_000, "took " + millis + " ms");
    }

    @Test
    void aVocabularyWithoutEveryByteIsRejected() {
        String[] tokens = withBytes();
        tokens[0x41] = "not-A";
        Vocabulary vocab = Vocabulary.of(tokens, null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Gpt2Tokenizer(vocab, new String[0], PreTokenizer.GPT2, SpecialTokens.resolve(vocab, -1, -1, false)));
        assertTrue(e.getMessage().contains("0x41"), e.getMessage());
    }

    @Test
    void preTokenizerNamesFromGguf() {
        assertEquals(PreTokenizer.LLAMA3, PreTokenizer.forName("llama-bpe"));
        assertEquals(PreTokenizer.QWEN2, PreTokenizer.forName("qwen2"));
        assertEquals(PreTokenizer.GPT2, PreTokenizer.forName(null));
        assertEquals(PreTokenizer.GPT2, PreTokenizer.forName("gpt-2"));
    }

    /** The 256 byte symbols (id = byte value) followed by {@code extra}. */
    private static String[] withBytes(String... extra) {
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) tokens.add(String.valueOf(ByteLevel.charOf(b)));
        tokens.addAll(List.of(extra));
        return tokens.toArray(String[]::new);
    }

    private static List<String> pieces(PreTokenizer pre, String text) {
        List<String> pieces = new ArrayList<>();
        Matcher m = pre.pattern().matcher(text);
        while (m.find()) pieces.add(m.group());
        return pieces;
    }
}
