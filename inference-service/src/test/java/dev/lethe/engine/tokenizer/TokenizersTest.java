package dev.lethe.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TokenizersTest {

    @Test
    void buildsAByteLevelTokenizerFromMetadata() {
        SyntheticBpe.Model model = SyntheticBpe.learn(PreTokenizer.LLAMA3, 100);
        Map<String, Object> md = gpt2Metadata(model);
        md.put("tokenizer.ggml.pre", "llama-bpe");
        md.put("tokenizer.ggml.bos_token_id", model.id("<|begin_of_text|>"));
        md.put("tokenizer.ggml.eos_token_id", model.id("<|endoftext|>"));
        md.put("tokenizer.ggml.add_bos_token", true);
        Tokenizer tokenizer = Tokenizers.fromMetadata(md);
        assertInstanceOf(Gpt2Tokenizer.class, tokenizer);
        assertEquals(model.tokens().length, tokenizer.vocabularySize());
        String text = "Lily's 12345 東京 😀";
        assertArrayEquals(SyntheticBpe.tokenizer(model, PreTokenizer.LLAMA3, true).encode(text, true, false), tokenizer.encode(text, true, false));
        assertEquals(model.id("<|begin_of_text|>"), tokenizer.encode(text, true, false)[0]);
    }

    @Test
    void byteLevelModelsGetNoBosUnlessTheyAskForIt() {
        SyntheticBpe.Model model = SyntheticBpe.learn(PreTokenizer.QWEN2, 10);
        Map<String, Object> md = gpt2Metadata(model);
        md.put("tokenizer.ggml.bos_token_id", model.id("<|endoftext|>"));
        Tokenizer tokenizer = Tokenizers.fromMetadata(md);
        assertArrayEquals(tokenizer.encode("x", false, false), tokenizer.encode("x", true, false));
    }

    @Test
    void anUnsetIdIsNone() {
        SyntheticBpe.Model model = SyntheticBpe.learn(PreTokenizer.GPT2, 10);
        Map<String, Object> md = gpt2Metadata(model);
        md.put("tokenizer.ggml.bos_token_id", 0xFFFFFFFF); // UINT32 max, as GGUF writers mark "none"
        assertEquals(-1, Tokenizers.fromMetadata(md).bosId());
    }

    @Test
    void errorsNameTheProblem() {
        SyntheticBpe.Model model = SyntheticBpe.learn(PreTokenizer.GPT2, 10);

        Map<String, Object> noModel = gpt2Metadata(model);
        noModel.remove("tokenizer.ggml.model");
        assertMessage(noModel, "tokenizer.ggml.model");

        Map<String, Object> bert = gpt2Metadata(model);
        bert.put("tokenizer.ggml.model", "bert");
        assertMessage(bert, "tokenizer.ggml.model is 'bert'");

        Map<String, Object> noMerges = gpt2Metadata(model);
        noMerges.remove("tokenizer.ggml.merges");
        assertMessage(noMerges, "tokenizer.ggml.merges");

        Map<String, Object> llamaWithoutScores = gpt2Metadata(model);
        llamaWithoutScores.put("tokenizer.ggml.model", "llama");
        assertMessage(llamaWithoutScores, "tokenizer.ggml.scores");

        Map<String, Object> wrongType = gpt2Metadata(model);
        wrongType.put("tokenizer.ggml.tokens", new int[] {1, 2});
        assertMessage(wrongType, "tokenizer.ggml.tokens");

        Map<String, Object> badEos = gpt2Metadata(model);
        badEos.put("tokenizer.ggml.eos_token_id", model.tokens().length);
        assertMessage(badEos, "tokenizer.ggml.eos_token_id");
    }

    private static void assertMessage(Map<String, Object> md, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromMetadata(md));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static Map<String, Object> gpt2Metadata(SyntheticBpe.Model model) {
        Map<String, Object> md = new HashMap<>();
        md.put("tokenizer.ggml.model", "gpt2");
        md.put("tokenizer.ggml.tokens", model.tokens());
        md.put("tokenizer.ggml.token_type", model.types());
        md.put("tokenizer.ggml.merges", model.merges());
        return md;
    }
}
