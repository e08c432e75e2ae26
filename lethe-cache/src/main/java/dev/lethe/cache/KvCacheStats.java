package dev.lethe.cache;

/**
 * A snapshot of a cache's bookkeeping: per layer its retained and full lengths, rounds run and deferred, and
 * the Hoyer sparsity of its latest attention; for the run, the mean retained fraction (retained / full length,
 * averaged over every layer after every step). A checkpoint carries it so a restored cache reports on.
 */
public record KvCacheStats(long step, int promptLength, int[] retained, int[] fullLengths, long[] rounds,
                           long[] deferred, double[] hoyer, double retainedFractionSum, long retainedSamples) {

    public KvCacheStats {
        int layers = retained.length;
        if (fullLengths.length != layers || rounds.length != layers || deferred.length != layers || hoyer.length != layers) {
            throw new IllegalArgumentException("per-layer arrays must all have " + layers + " entries");
        }
        retained = retained.clone();
        fullLengths = fullLengths.clone();
        rounds = rounds.clone();
        deferred = deferred.clone();
        hoyer = hoyer.clone();
    }

    /** Retained / full length averaged over the run; 1 before the first step. */
    public double meanRetainedFraction() {
        return retainedSamples == 0 ? 1 : retainedFractionSum / retainedSamples;
    }

    public long totalRounds() {
        long total = 0;
        for (long r : rounds) total += r;
        return total;
    }

    public long totalDeferred() {
        long total = 0;
        for (long d : deferred) total += d;
        return total;
    }
}
