package dev.lethe.engine.tokenizer;

import java.util.HashMap;
import java.util.Map;
import java.util.stream.IntStream;

/** The token strings of a model with their types, and the reverse lookup from string to id. */
public final class Vocabulary {
    private final String[] tokens;
    private final TokenType[] types;
    private final Map<String, Integer> ids;

    private Vocabulary(String[] tokens, TokenType[] types) {
        this.tokens = tokens;
        this.types = types;
        this.ids = HashMap.newHashMap(tokens.length);
        for (int i = 0; i < tokens.length; i++) {
            // Some vocabularies repeat a string; the first id is the one encoders have always produced.
            ids.putIfAbsent(tokens[i], i);
        }
    }

    /**
     * @param tokens the token strings, indexed by id
     * @param types  GGUF token types ({@link TokenType} ordinals), or null when the model gives none (all normal)
     */
    public static Vocabulary of(String[] tokens, int[] types) {
        if (tokens.length == 0) throw new IllegalArgumentException("the vocabulary (tokenizer.ggml.tokens) is empty");
        if (types != null && types.length != tokens.length) {
            throw new IllegalArgumentException("tokenizer.ggml.token_type has " + types.length
                    + " entries but tokenizer.ggml.tokens has " + tokens.length);
        }
        TokenType[] resolved = new TokenType[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == null) throw new IllegalArgumentException("token " + i + " has no text");
            resolved[i] = types == null ? TokenType.NORMAL : TokenType.fromId(types[i]);
        }
        return new Vocabulary(tokens.clone(), resolved);
    }

    public int size() {
        return tokens.length;
    }

    public String token(int id) {
        return tokens[id];
    }

    public TokenType type(int id) {
        return types[id];
    }

    /** The id of a token by its exact string, or -1. */
    public int id(String token) {
        return ids.getOrDefault(token, -1);
    }

    /** The id of a special (control or user-defined) token by its text, or -1. */
    public int specialId(String token) {
        int id = id(token);
        return id >= 0 && types[id].isSpecial() ? id : -1;
    }

    int[] specialIds() {
        return IntStream.range(0, tokens.length).filter(i -> types[i].isSpecial()).toArray();
    }
}
