package dev.lethe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.gguf.GgufFile;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LlamaTokenizerTest {
    /**
     * llama2.c's published output for {@code ./run stories260K.bin -z tok512.bin -t 0.0 -n 200} (its
     * test_all.py, without run.c's final newline): what the golden greedy ids must decode to.
     */
    private static final String RUNC_GREEDY_TEXT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
            + "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n"
            + "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. "
            + "She said, \"I want to play with your ball, but I can't find it.\"\n"
            + "Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\n"
            + "Lily didn't want to help her mom, so she";

    private static GgufFile gguf;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void load() {
        gguf = SharedFiles.stories260K();
        tokenizer = Tokenizers.fromGguf(gguf);
    }

    @AfterAll
    static void close() {
        gguf.close();
    }

    @Test
    void isTheLlamaKindWithItsSpecialIds() {
        assertInstanceOf(LlamaTokenizer.class, tokenizer);
        assertEquals(512, tokenizer.vocabularySize());
        assertEquals(1, tokenizer.bosId());
        assertEquals(2, tokenizer.eosId());
        assertTrue(tokenizer.isEndOfGeneration(2));
        assertFalse(tokenizer.isEndOfGeneration(1));
        assertEquals(1, tokenizer.specialTokenId("<s>"));
        assertEquals(-1, tokenizer.specialTokenId("▁the"));
    }

    @Test
    void encodesTheGoldenPromptsExactlyAsRunC() {
        Map<String, int[]> cases = SharedFiles.goldenPromptIds();
        assertEquals(4, cases.size());
        cases.forEach((prompt, ids) -> assertArrayEquals(ids, tokenizer.encode(prompt, true, false), prompt));
    }

    @Test
    void greedyGoldenIdsDecodeToRunCsTextByteForByte() {
        int[] ids = SharedFiles.goldenGreedyIds();
        assertEquals(201, ids.length);
        assertEquals(RUNC_GREEDY_TEXT, tokenizer.decode(ids));
    }

    @Test
    void streamingTheGreedyIdsPrintsTheSameTextAsDecode() {
        int[] ids = SharedFiles.goldenGreedyIds();
        Detokenizer stream = new Detokenizer(tokenizer);
        StringBuilder printed = new StringBuilder();
        for (int id : ids) printed.append(stream.push(id));
        printed.append(stream.flush());
        assertEquals(RUNC_GREEDY_TEXT, printed.toString());
    }

    @Test
    void greedyRunFromThePromptPrintsTheReferenceText() {
        // The CLI feeds the prompt through the same Detokenizer as the generated tokens.
        int[] prompt = tokenizer.encode("Once upon a time", true, false);
        int[] golden = SharedFiles.goldenGreedyIds();
        assertArrayEquals(Arrays.copyOf(golden, prompt.length), prompt, "the greedy run starts with the prompt's tokens");
        assertEquals(RUNC_GREEDY_TEXT, tokenizer.decode(golden));
    }

    @Test
    void tokenBytesFollowTheTokenKind() {
        assertArrayEquals(" Once".getBytes(StandardCharsets.UTF_8), tokenizer.tokenBytes(403), "▁ is a space");
        assertArrayEquals(new byte[] {0x0A}, tokenizer.tokenBytes(13), "<0x0A> is a newline byte");
        assertArrayEquals(new byte[] {(byte) 0xF0}, tokenizer.tokenBytes(3 + 0xF0));
        assertEquals(0, tokenizer.tokenBytes(1).length, "BOS is a control token");
        assertEquals(0, tokenizer.tokenBytes(2).length, "EOS is a control token");
    }

    @Test
    void charactersOutsideTheVocabularyFallBackToTheirBytes() {
        // "😀" is F0 9F 98 80; byte token <0xNN> has id NN + 3 in this vocabulary.
        assertArrayEquals(new int[] {1, 410, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}, tokenizer.encode("😀", true, false));
        assertArrayEquals(new int[] {1, 410, 3 + '\t', 3 + '\n'}, tokenizer.encode("\t\n", true, false));
    }

    @Test
    void emptyTextGetsNoDummyPrefix() {
        assertArrayEquals(new int[] {1}, tokenizer.encode("", true, false));
        assertArrayEquals(new int[0], tokenizer.encode("", false, false));
        assertEquals("", tokenizer.decode(new int[] {1}));
    }

    @Test
    void specialTokensAreOnlyParsedWhenAsked() {
        int[] plain = tokenizer.encode("a</s>b", false, false);
        assertFalse(Arrays.stream(plain).anyMatch(id -> id == 2), Arrays.toString(plain));
        assertEquals("a</s>b", tokenizer.decode(plain));

        int[] parsed = tokenizer.encode("a</s>b", false, true);
        // Each text run starts with a dummy prefix: "▁a" </s> "▁b", as in llama.cpp.
        assertArrayEquals(new int[] {261, 2, 268}, parsed);
    }

    @Test
    void decodeUndoesEncodeForRandomUnicode() {
        Random random = new Random(260);
        for (int i = 0; i < 500; i++) {
            String s = RandomText.string(random, 1 + random.nextInt(40));
            int[] ids = tokenizer.encode(s, true, false);
            assertEquals(s, tokenizer.decode(ids), () -> "ids " + Arrays.toString(ids));
            assertEquals(s, tokenizer.decode(Arrays.copyOfRange(ids, 1, ids.length)), "without BOS too");
        }
    }

    @Test
    void priorityQueueMergingMatchesRunCsScanForTheBestPair() {
        Random random = new Random(42);
        LlamaTokenizer llama = (LlamaTokenizer) tokenizer;
        for (int i = 0; i < 300; i++) {
            String s = RandomText.storyLike(random, 1 + random.nextInt(120));
            assertArrayEquals(runCEncode(s), llama.encode(s, true, false), s);
        }
    }

    /**
     * Guards against a merge loop that is quadratic in the text's length (which takes minutes at this length), not
     * a speed measurement: linear encoding takes about a second here, so the bound has a wide margin for a loaded
     * machine.
     */
    @Test
    void longPromptsEncodeQuickly() {
        String text = RandomText.storyLike(new Random(7), 200_000);
        long start = System.nanoTime();
        int[] ids = tokenizer.encode(text, true, false);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(text, tokenizer.decode(ids));
        assertTrue(millis < 60_000, "200k characters took " + millis + " ms");
    }

    /**
     * An independent, deliberately naive transcription of run.c's encode(): look every character up (or
     * spell it with byte tokens), then repeatedly rescan for the adjacent pair whose concatenation has the
     * best score, first one winning ties.
     */
    private static int[] runCEncode(String text) {
        Vocabulary vocab = vocabOfModel();
        float[] scores = (float[]) gguf.metadata().get("tokenizer.ggml.scores");
        List<Integer> ids = new ArrayList<>();
        ids.add(1);
        String s = (" " + text).replace(' ', '▁');
        s.codePoints().forEach(cp -> {
            int id = vocab.id(Character.toString(cp));
            if (id >= 0) {
                ids.add(id);
            } else {
                for (byte b : Character.toString(cp).getBytes(StandardCharsets.UTF_8)) ids.add((b & 0xFF) + 3);
            }
        });
        while (true) {
            float best = Float.NEGATIVE_INFINITY;
            int bestId = -1;
            int bestIndex = -1;
            for (int i = 1; i + 1 < ids.size(); i++) {
                int id = vocab.id(vocab.token(ids.get(i)) + vocab.token(ids.get(i + 1)));
                if (id >= 0 && scores[id] > best) {
                    best = scores[id];
                    bestId = id;
                    bestIndex = i;
                }
            }
            if (bestIndex < 0) break;
            ids.set(bestIndex, bestId);
            ids.remove(bestIndex + 1);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private static Vocabulary vocabOfModel() {
        return Vocabulary.of((String[]) gguf.metadata().get("tokenizer.ggml.tokens"), (int[]) gguf.metadata().get("tokenizer.ggml.token_type"));
    }
}
