package dev.lethe.engine.tokenizer;

import dev.lethe.engine.gguf.GgufFile;
import java.util.Map;

/** Builds the tokenizer a GGUF model describes in its {@code tokenizer.ggml.*} metadata. */
public final class Tokenizers {
    private Tokenizers() {}

    public static Tokenizer fromGguf(GgufFile gguf) {
        return fromMetadata(gguf.metadata());
    }

    /**
     * @throws IllegalArgumentException naming the key when the model's tokenizer is of a kind we do not
     *         support, or a key it needs is missing or has the wrong type
     */
    public static Tokenizer fromMetadata(Map<String, Object> metadata) {
        Metadata md = new Metadata(metadata);
        String model = md.optional("tokenizer.ggml.model", String.class);
        if (model == null) {
            throw new IllegalArgumentException("the model file has no tokenizer: metadata key 'tokenizer.ggml.model' is missing");
        }
        return switch (model) {
            case "llama" -> llama(md);
            case "gpt2" -> gpt2(md);
            default -> throw new IllegalArgumentException("unsupported tokenizer: tokenizer.ggml.model is '" + model
                    + "' (supported: 'llama' for SentencePiece BPE, 'gpt2' for byte-level BPE)");
        };
    }

    private static LlamaTokenizer llama(Metadata md) {
        Vocabulary vocab = vocabulary(md);
        float[] scores = md.require("tokenizer.ggml.scores", float[].class);
        int unknownId = md.intOr("tokenizer.ggml.unknown_token_id", firstOfType(vocab, TokenType.UNKNOWN));
        return new LlamaTokenizer(vocab, scores, specials(md, vocab, true), md.boolOr("tokenizer.ggml.add_space_prefix", true),
                unknownId);
    }

    private static Gpt2Tokenizer gpt2(Metadata md) {
        Vocabulary vocab = vocabulary(md);
        String[] merges = md.require("tokenizer.ggml.merges", String[].class);
        PreTokenizer pre = PreTokenizer.forName(md.optional("tokenizer.ggml.pre", String.class));
        return new Gpt2Tokenizer(vocab, merges, pre, specials(md, vocab, false));
    }

    private static Vocabulary vocabulary(Metadata md) {
        return Vocabulary.of(md.require("tokenizer.ggml.tokens", String[].class), md.optional("tokenizer.ggml.token_type", int[].class));
    }

    /** BOS is wanted by default by SentencePiece models and not by byte-level ones, as in llama.cpp. */
    private static SpecialTokens specials(Metadata md, Vocabulary vocab, boolean addBosByDefault) {
        return SpecialTokens.resolve(vocab,
                md.intOr("tokenizer.ggml.bos_token_id", -1),
                md.intOr("tokenizer.ggml.eos_token_id", -1),
                md.boolOr("tokenizer.ggml.add_bos_token", addBosByDefault),
                md.intOr("tokenizer.ggml.eot_token_id", -1),
                md.intOr("tokenizer.ggml.eom_token_id", -1));
    }

    private static int firstOfType(Vocabulary vocab, TokenType type) {
        for (int id = 0; id < vocab.size(); id++) if (vocab.type(id) == type) return id;
        return -1;
    }

    /** Typed access to metadata with errors that name the key. UINT32 ids of 0xFFFFFFFF read as -1: "none". */
    private record Metadata(Map<String, Object> values) {
        <T> T require(String key, Class<T> type) {
            T v = optional(key, type);
            if (v == null) throw new IllegalArgumentException("the model's tokenizer needs metadata key '" + key + "', which is missing");
            return v;
        }

        <T> T optional(String key, Class<T> type) {
            Object v = values.get(key);
            if (v != null && !type.isInstance(v)) {
                throw new IllegalArgumentException("metadata key '" + key + "' should be " + type.getSimpleName()
                        + " but is " + v.getClass().getSimpleName());
            }
            return type.cast(v);
        }

        int intOr(String key, int defaultValue) {
            Number n = optional(key, Number.class);
            return n == null ? defaultValue : n.intValue();
        }

        boolean boolOr(String key, boolean defaultValue) {
            Boolean b = optional(key, Boolean.class);
            return b == null ? defaultValue : b;
        }
    }
}
