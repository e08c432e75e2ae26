package dev.lethe.engine.tokenizer;

import java.util.Arrays;

/**
 * Streams token ids to text: the bytes of each token go through a {@link Utf8StreamDecoder}, and the space a
 * SentencePiece-style tokenizer prefixes to the input ({@link Tokenizer#addsSpacePrefix}) is dropped from the
 * first token that carries text, as llama2.c's {@code run.c} and llama.cpp do. So {@code decode(encode(s))}
 * gives back {@code s}, and a generation printed token by token reads "Once upon a time", not " Once upon...".
 *
 * <p>Feed it the prompt tokens too (printing or discarding what they return): whether a space is the dummy
 * prefix depends on whether any text came before it. Not thread-safe: one per stream.
 */
public final class Detokenizer {
    private final Tokenizer tokenizer;
    private final Utf8StreamDecoder utf8 = new Utf8StreamDecoder();
    private boolean sawText;

    public Detokenizer(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** The whole text of a token sequence, as {@link Tokenizer#decode} defines it. */
    public static String decode(Tokenizer tokenizer, int[] tokens) {
        Detokenizer d = new Detokenizer(tokenizer);
        StringBuilder sb = new StringBuilder();
        for (int t : tokens) sb.append(d.push(t));
        return sb.append(d.flush()).toString();
    }

    /** Adds one token and returns the text it completes (possibly empty: control tokens, partial characters). */
    public String push(int token) {
        byte[] bytes = tokenizer.tokenBytes(token);
        if (bytes.length == 0) return "";
        int from = 0;
        if (!sawText && tokenizer.addsSpacePrefix() && bytes[0] == ' ') from = 1;
        sawText = true;
        return utf8.push(from == 0 ? bytes : Arrays.copyOfRange(bytes, from, bytes.length));
    }

    /** Ends the stream; an incomplete trailing character becomes U+FFFD. */
    public String flush() {
        return utf8.flush();
    }
}
