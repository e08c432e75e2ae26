package dev.lethe.engine.sampler;

import java.util.List;

/**
 * How to pick each next token and when to stop. A temperature of 0 means greedy (argmax); otherwise the
 * logits are divided by the temperature, and top-k (0 = off), top-p (1 = off) and min-p (0 = off) filter
 * the candidates before a seeded draw.
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, long seed, int maxTokens, List<String> stop) {

    public SamplingParams {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0 (0 disables it), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min-p must be in [0, 1], got " + minP);
        if (maxTokens <= 0) throw new IllegalArgumentException("max tokens must be positive, got " + maxTokens);
        stop = List.copyOf(stop);
        for (String s : stop) {
            if (s.isEmpty()) throw new IllegalArgumentException("stop sequences must not be empty");
        }
    }

    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0f, 0, 1f, 0f, 0L, maxTokens, List.of());
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }
}
