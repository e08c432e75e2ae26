package dev.lethe.cache.policy;

/**
 * The token budget of a fixed-budget baseline: either an absolute count of tokens per layer
 * ({@code budget}) or a fraction of the sequence's full length so far ({@code budget-ratio}), which lets a
 * benchmark sweep retention directly and compare with the retention Lethe reaches on its own.
 */
record Budget(int tokens, double ratio) {

    static final String TOKENS = "budget";
    static final String RATIO = "budget-ratio";

    /** Reads exactly one of {@code budget} and {@code budget-ratio}. */
    static Budget read(Params params) {
        boolean hasTokens = params.has(TOKENS);
        boolean hasRatio = params.has(RATIO);
        if (hasTokens == hasRatio) {
            throw new IllegalArgumentException("KV policy " + params.policy() + ": give exactly one of parameters '"
                    + TOKENS + "' (tokens per layer) and '" + RATIO + "' (fraction of the full length)");
        }
        if (hasTokens) return new Budget(params.positive(TOKENS, 0), 0);
        double ratio = params.ratio(RATIO, 0);
        if (ratio == 0) throw params.invalid(RATIO, "must be greater than 0");
        return new Budget(0, ratio);
    }

    /** Tokens this layer may keep when the full cache would hold {@code fullLength}; at least 1. */
    int resolve(int fullLength) {
        if (tokens > 0) return tokens;
        return Math.max(1, (int) Math.ceil(ratio * fullLength - 1e-9));
    }
}
