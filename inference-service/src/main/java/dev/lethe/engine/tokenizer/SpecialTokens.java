package dev.lethe.engine.tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The ids with a fixed role: BOS, EOS, and every token that ends a generation.
 *
 * @param bosId            begin-of-sequence id, or -1
 * @param eosId            end-of-sequence id, or -1
 * @param addBos           whether the model wants BOS prepended ({@code tokenizer.ggml.add_bos_token})
 * @param endOfGeneration  sorted ids that stop generation: EOS plus end-of-turn tokens
 */
public record SpecialTokens(int bosId, int eosId, boolean addBos, int[] endOfGeneration) {

    /**
     * Control tokens that end a turn in the chat models we support. Their ids are not always in the metadata
     * (older Llama 3 and Qwen files name only EOS), so they are found by name, as llama.cpp does.
     */
    private static final List<String> END_OF_TURN_NAMES =
            List.of("<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end_of_text|>", "<|endoftext|>", "<|end|>", "<end_of_turn>");

    /**
     * Resolves the roles against a vocabulary. Ids of -1 mean "none"; {@code extraEndOfGeneration} takes ids
     * such as {@code tokenizer.ggml.eot_token_id}.
     */
    public static SpecialTokens resolve(Vocabulary vocab, int bosId, int eosId, boolean addBos, int... extraEndOfGeneration) {
        checkId(vocab, bosId, "tokenizer.ggml.bos_token_id");
        checkId(vocab, eosId, "tokenizer.ggml.eos_token_id");
        for (int id : extraEndOfGeneration) checkId(vocab, id, "end-of-generation token id");
        IntStream named = END_OF_TURN_NAMES.stream().mapToInt(vocab::id)
                .filter(id -> id >= 0 && vocab.type(id) == TokenType.CONTROL);
        int[] eog = IntStream.concat(IntStream.concat(IntStream.of(eosId), IntStream.of(extraEndOfGeneration)), named)
                .filter(id -> id >= 0).distinct().sorted().toArray();
        return new SpecialTokens(bosId, eosId, addBos, eog);
    }

    public boolean isEndOfGeneration(int token) {
        return Arrays.binarySearch(endOfGeneration, token) >= 0;
    }

    private static void checkId(Vocabulary vocab, int id, String what) {
        if (id < -1 || id >= vocab.size()) {
            throw new IllegalArgumentException(what + " is " + Integer.toUnsignedString(id)
                    + ", outside the vocabulary of " + vocab.size() + " tokens");
        }
    }
}
