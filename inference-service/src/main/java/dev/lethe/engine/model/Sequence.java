package dev.lethe.engine.model;

import dev.lethe.cache.KvCache;

/**
 * One sequence being decoded: its KV cache, its next position and its latest logits. It runs alone through
 * its own small {@link ForwardPass} ({@link #forward}, {@link #prefill}), or with other sequences through a
 * shared one ({@link ForwardPass#decode}). Not thread-safe: one sequence, one caller at a time.
 */
public final class Sequence implements Decoder {
    /** Prompt tokens processed per forward pass while prefilling. */
    public static final int PREFILL_CHUNK = 16;

    private final Model model;
    private final KvCache cache;
    private final Attention attention;
    private final float[] logits;
    private ForwardPass ownPass;
    private int position;

    Sequence(Model model, KvCache cache, int position) {
        this.model = model;
        this.cache = cache;
        this.position = position;
        this.attention = new Attention(model.config(), cache);
        this.logits = new float[model.config().vocabularySize()];
    }

    public Model model() {
        return model;
    }

    @Override
    public KvCache cache() {
        return cache;
    }

    /** Position the next token will take (the number of tokens fed so far). */
    @Override
    public int position() {
        return position;
    }

    /** The logits after the last token fed; overwritten by the next forward pass. */
    @Override
    public float[] logits() {
        return logits;
    }

    @Override
    public int contextLength() {
        return model.config().contextLength();
    }

    Attention attention() {
        return attention;
    }

    /** Called by the forward pass once this sequence's tokens of a pass are in: ends the cache's step. */
    void advance(int tokens) {
        position += tokens;
        cache.endStep();
    }

    /** Feeds one token at the next position and returns the logits for the token after it. */
    @Override
    public float[] forward(int token) {
        pass().run(new Sequence[] {this}, new int[] {token}, 0, new int[] {1});
        return logits;
    }

    /** Feeds all tokens (chunk by chunk) and returns the logits after the last one. */
    @Override
    public float[] prefill(int[] tokens) {
        if (tokens.length == 0) throw new IllegalArgumentException("nothing to prefill");
        for (int start = 0; start < tokens.length; start += PREFILL_CHUNK) {
            pass().run(new Sequence[] {this}, tokens, start, new int[] {Math.min(PREFILL_CHUNK, tokens.length - start)});
        }
        return logits;
    }

    private ForwardPass pass() {
        if (ownPass == null) ownPass = new ForwardPass(model, PREFILL_CHUNK);
        return ownPass;
    }

    @Override
    public void close() {
        cache.close();
    }
}
