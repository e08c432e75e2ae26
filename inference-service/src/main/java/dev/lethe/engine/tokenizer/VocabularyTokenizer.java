package dev.lethe.engine.tokenizer;

/**
 * What every tokenizer backed by a GGUF vocabulary answers the same way: the bytes of each token, the vocabulary's
 * size and special tokens. Subclasses say how text becomes tokens and what bytes each token stands for.
 */
abstract class VocabularyTokenizer implements Tokenizer {
    protected final Vocabulary vocab;
    protected final SpecialTokens specials;
    /** The bytes each token stands for, filled by the subclass's constructor. */
    protected final byte[][] tokenBytes;

    protected VocabularyTokenizer(Vocabulary vocab, SpecialTokens specials) {
        this.vocab = vocab;
        this.specials = specials;
        this.tokenBytes = new byte[vocab.size()][];
    }

    @Override
    public final byte[] tokenBytes(int token) {
        return tokenBytes[token].clone();
    }

    @Override
    public final String decode(int[] tokens) {
        return Detokenizer.decode(this, tokens);
    }

    @Override
    public final int vocabularySize() {
        return vocab.size();
    }

    @Override
    public final int bosId() {
        return specials.bosId();
    }

    @Override
    public final int eosId() {
        return specials.eosId();
    }

    @Override
    public final boolean isEndOfGeneration(int token) {
        return specials.isEndOfGeneration(token);
    }

    @Override
    public final int specialTokenId(String text) {
        return vocab.specialId(text);
    }
}
