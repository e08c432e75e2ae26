package dev.lethe.engine.gpu;

import dev.lethe.cache.policy.Selector;
import dev.lethe.cache.policy.SequenceView;

/**
 * One request of a batched run: a prompt and a number of tokens to generate. The prompt is fed one token per
 * step, like a generated token, so every step of the batch is a decode step; the generated tokens stay on the
 * device (recorded on the host only when asked). Preemption sends it back to the queue to start over.
 */
public final class BatchSequence implements SequenceView {
    private final int id;
    private final int[] prompt;
    private final int maxNewTokens;
    private final int[] produced;

    int slot = -1;
    SequenceBlocks blocks;
    Selector selector;
    int fed;
    int generated;
    int preemptions;
    long wastedTokens;

    public BatchSequence(int id, int[] prompt, int maxNewTokens, boolean recordTokens) {
        if (prompt.length == 0) throw new IllegalArgumentException("sequence " + id + ": empty prompt");
        if (maxNewTokens < 1) throw new IllegalArgumentException("sequence " + id + ": at least one token to generate, got " + maxNewTokens);
        this.id = id;
        this.prompt = prompt.clone();
        this.maxNewTokens = maxNewTokens;
        this.produced = recordTokens ? new int[maxNewTokens] : null;
    }

    public int id() {
        return id;
    }

    public int promptLength() {
        return prompt.length;
    }

    public int maxNewTokens() {
        return maxNewTokens;
    }

    public int generated() {
        return generated;
    }

    public int preemptions() {
        return preemptions;
    }

    /** Tokens generated and then thrown away by preemptions. */
    public long wastedTokens() {
        return wastedTokens;
    }

    public boolean finished() {
        return generated == maxNewTokens;
    }

    public boolean records() {
        return produced != null;
    }

    /** The tokens generated so far (only if recorded). */
    public int[] produced() {
        if (produced == null) throw new IllegalStateException("sequence " + id + " does not record its tokens");
        return java.util.Arrays.copyOf(produced, generated);
    }

    /** The token to feed this step: the next prompt token, or -1 for the one the device sampled last. */
    int nextInput() {
        return fed < prompt.length ? prompt[fed] : -1;
    }

    /** Whether this step's output is a generated token (the step fed the last prompt token or a generated one). */
    boolean producing() {
        return fed >= prompt.length - 1;
    }

    /** The step ran: one more token fed; its output, if a generated token, recorded. */
    void advance(int chosen) {
        if (producing()) {
            if (produced != null) produced[generated] = chosen;
            generated++;
        }
        fed++;
    }

    boolean promptDone() {
        return fed >= prompt.length;
    }

    void restart() {
        wastedTokens += generated;
        preemptions++;
        fed = 0;
        generated = 0;
        selector = null;
        slot = -1;
    }

    // SequenceView, for the selectors

    @Override
    public long step() {
        return fed - prompt.length;
    }

    @Override
    public int layers() {
        return blocks.layersCount();
    }

    @Override
    public long retainedTokens() {
        return blocks.retainedTokens();
    }
}
