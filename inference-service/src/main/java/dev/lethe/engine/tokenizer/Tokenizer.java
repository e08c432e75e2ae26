package dev.lethe.engine.tokenizer;

/**
 * Text to token ids and back, as the model's GGUF metadata defines it. Decoding works on bytes, because a
 * token may hold only part of a UTF-8 character: {@link Utf8StreamDecoder} turns a stream of token bytes
 * into text without ever emitting half a character.
 */
public interface Tokenizer {

    /**
     * Encodes plain text. Special-token strings in {@code text} (such as {@code <|im_start|>}) are encoded
     * as ordinary text unless {@code parseSpecial} is true, in which case they become their special ids.
     * A BOS id is prepended when {@code addBos} is true and the model has one.
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** The bytes this token stands for in generated text (empty for control tokens such as BOS/EOS). */
    byte[] tokenBytes(int token);

    /** Convenience: the text of a whole token sequence (control tokens omitted). */
    String decode(int[] tokens);

    int vocabularySize();

    /** BOS id, or -1 when the model has none. */
    int bosId();

    /** EOS id, or -1 when the model has none. */
    int eosId();

    /** True for tokens that end a generation (EOS, end-of-turn tokens such as {@code <|eot_id|>}, {@code <|im_end|>}). */
    boolean isEndOfGeneration(int token);

    /** The id of a special token given by its text, or -1 when the vocabulary has no such token. */
    int specialTokenId(String text);

    /**
     * True when {@link #encode} puts a space in front of the text (SentencePiece's "dummy prefix"), which
     * {@link #decode} and {@link Detokenizer} then drop from the first token that carries text.
     */
    default boolean addsSpacePrefix() {
        return false;
    }
}
