package dev.lethe.engine.sampler;

import java.util.Arrays;

/**
 * Picks the next token from logits according to {@link SamplingParams}. Its random generator is a
 * SplitMix64 whose whole state is one long ({@link #rngState}), so a checkpoint can store it and a resumed
 * job draws exactly the numbers the uninterrupted one would have.
 */
public final class Sampler {
    /** SplitMix64's increment per draw. */
    private static final long GAMMA = 0x9E3779B97F4A7C15L;

    private final SamplingParams params;
    private long rngState;
    private float[] probabilities = new float[0];

    public Sampler(SamplingParams params) {
        this(params, params.seed());
    }

    public Sampler(SamplingParams params, long rngState) {
        this.params = params;
        this.rngState = rngState;
    }

    public SamplingParams params() {
        return params;
    }

    public long rngState() {
        return rngState;
    }

    /**
     * Moves the generator past {@code draws} draws, as if that many tokens had been sampled: each sample that is
     * not greedy draws exactly one number, and SplitMix64's state only advances by a constant per draw.
     */
    public void skip(long draws) {
        if (draws < 0) throw new IllegalArgumentException("cannot skip " + draws + " draws");
        rngState += draws * GAMMA;
    }

    public int sample(float[] logits) {
        if (params.isGreedy()) return argmax(logits);
        int n = logits.length;
        if (probabilities.length < n) probabilities = new float[n];
        // Softmax of logits / temperature.
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float p = (float) Math.exp((logits[i] - max) / params.temperature());
            probabilities[i] = p;
            sum += p;
        }
        for (int i = 0; i < n; i++) probabilities[i] /= (float) sum;

        // Candidates sorted by probability, descending (ties by id, so the order is deterministic).
        Integer[] boxed = new Integer[n];
        for (int i = 0; i < n; i++) boxed[i] = i;
        float[] p = probabilities;
        Arrays.sort(boxed, (a, b) -> p[a] != p[b] ? Float.compare(p[b], p[a]) : Integer.compare(a, b));
        int kept = n;
        if (params.topK() > 0) kept = Math.min(kept, params.topK());
        if (params.topP() < 1f) {
            double cumulative = 0;
            for (int i = 0; i < kept; i++) {
                cumulative += p[boxed[i]];
                if (cumulative >= params.topP()) {
                    kept = i + 1;
                    break;
                }
            }
        }
        if (params.minP() > 0f) {
            float floor = params.minP() * p[boxed[0]];
            int i = 1;
            while (i < kept && p[boxed[i]] >= floor) i++;
            kept = i;
        }
        double total = 0;
        for (int i = 0; i < kept; i++) total += p[boxed[i]];
        double r = nextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < kept; i++) {
            cumulative += p[boxed[i]];
            if (r < cumulative) return boxed[i];
        }
        return boxed[kept - 1];
    }

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) best = i;
        }
        return best;
    }

    /** SplitMix64 (Steele, Lea, Flood 2014): a uniform double in [0, 1). */
    private double nextDouble() {
        long z = (rngState += GAMMA);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }
}
