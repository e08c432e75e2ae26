package dev.lethe.engine.tokenizer;

import java.util.regex.Pattern;

/**
 * How a byte-level BPE model cuts text into pieces before merging (GGUF {@code tokenizer.ggml.pre}); merges
 * never cross piece boundaries. The patterns are those the models were trained with; {@code \s} is Unicode
 * white space ({@link Pattern#UNICODE_CHARACTER_CLASS}) as in the Python {@code regex} module they come from.
 */
public enum PreTokenizer {
    /** GPT-2's pattern: contractions, letters, digits and other symbols, each optionally after one space. */
    GPT2("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", false),
    /**
     * Llama 3's pattern: case-insensitive contractions, numbers in groups of up to three digits, newlines kept
     * apart. Llama 3 also looks a whole piece up in the vocabulary before merging ("ignore_merges").
     */
    LLAMA3("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
            + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", true),
    /** Qwen2's pattern: like Llama 3's, but every digit is its own piece. */
    QWEN2("(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", false);

    private static final System.Logger LOG = System.getLogger(PreTokenizer.class.getName());

    private final Pattern pattern;
    private final boolean wholePieceFirst;

    PreTokenizer(String regex, boolean wholePieceFirst) {
        this.pattern = Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        this.wholePieceFirst = wholePieceFirst;
    }

    Pattern pattern() {
        return pattern;
    }

    /** True when a piece that is itself a vocabulary entry becomes that token without running the merges. */
    boolean wholePieceFirst() {
        return wholePieceFirst;
    }

    /**
     * The pre-tokenizer a {@code tokenizer.ggml.pre} value names. A missing value means GPT-2's; a value we
     * do not know also gets GPT-2's, with a warning, since that is what such a model most likely expects.
     */
    public static PreTokenizer forName(String pre) {
        if (pre == null) return GPT2;
        return switch (pre) {
            case "gpt-2", "gpt2", "default" -> GPT2;
            case "llama3", "llama-bpe", "llama-v3" -> LLAMA3;
            case "qwen2", "deepseek-r1-qwen" -> QWEN2;
            default -> {
                LOG.log(System.Logger.Level.WARNING,
                        "unknown tokenizer.ggml.pre '" + pre + "'; splitting text the GPT-2 way, which may not match the model");
                yield GPT2;
            }
        };
    }
}
