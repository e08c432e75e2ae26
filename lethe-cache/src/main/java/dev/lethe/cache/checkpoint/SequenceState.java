package dev.lethe.cache.checkpoint;

import java.util.Objects;

/**
 * What a checkpoint carries besides the KV cache: the token ids so far and the sampler.
 *
 * @param lastSeq the 0-based index of the last generated token already delivered (-1: none yet)
 */
public record SequenceState(int[] promptTokens, int[] generatedTokens, long lastSeq, SamplerState sampler) {

    public SequenceState {
        Objects.requireNonNull(sampler, "sampler");
        promptTokens = promptTokens.clone();
        generatedTokens = generatedTokens.clone();
        if (lastSeq < -1) throw new IllegalArgumentException("lastSeq must be -1 or more, got " + lastSeq);
    }

    @Override
    public int[] promptTokens() {
        return promptTokens.clone();
    }

    @Override
    public int[] generatedTokens() {
        return generatedTokens.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof SequenceState s && java.util.Arrays.equals(promptTokens, s.promptTokens)
                && java.util.Arrays.equals(generatedTokens, s.generatedTokens) && lastSeq == s.lastSeq
                && sampler.equals(s.sampler);
    }

    @Override
    public int hashCode() {
        return Objects.hash(java.util.Arrays.hashCode(promptTokens), java.util.Arrays.hashCode(generatedTokens), lastSeq, sampler);
    }

    @Override
    public String toString() {
        return "SequenceState[prompt=" + promptTokens.length + " tokens, generated=" + generatedTokens.length
                + " tokens, lastSeq=" + lastSeq + ", sampler=" + sampler + "]";
    }
}
