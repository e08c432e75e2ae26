package dev.lethe.cache.policy;

/**
 * The token budget of a fixed-budget baseline: either an absolute count of tokens per layer
 * ({@code budget}) or a fraction of the sequence's full length so far ({@code budget-ratio}), which lets a
 * benchmark sweep retention directly and compare with the retention Lethe reaches on its own.
 *
 * <p>{@code grace} (tokens, default 0 = none): the budget never falls below prompt length + grace. A ratio
 * budget otherwise cuts the prompt to that ratio at the first decode step, before any reasoning has been
 * written; with grace = Lethe's Δ a baseline starts pruning when Lethe's first round comes due.
 */
record Budget(int tokens, double ratio, int grace) {

    static final String TOKENS = "budget";
    static final String RATIO = "budget-ratio";
    static final String GRACE = "grace";

    /** Reads exactly one of {@code budget} and {@code budget-ratio}. */
    static Budget read(Params params) {
        boolean hasTokens = params.has(TOKENS);
        boolean hasRatio = params.has(RATIO);
        if (hasTokens == hasRatio) {
            throw new IllegalArgumentException("KV policy " + params.policy() + ": give exactly one of parameters '"
                    + TOKENS + "' (tokens per layer) and '" + RATIO + "' (fraction of the full length)");
        }
        int grace = params.has(GRACE) ? params.nonNegative(GRACE, 0) : 0;
        if (hasTokens) return new Budget(params.positive(TOKENS, 0), 0, grace);
        double ratio = params.ratio(RATIO, 0);
        if (ratio == 0) throw params.invalid(RATIO, "must be greater than 0");
        return new Budget(0, ratio, grace);
    }

    /**
     * Tokens this layer may keep when the full cache would hold {@code fullLength} and the prompt has
     * {@code promptLength}; at least 1.
     */
    int resolve(int fullLength, int promptLength) {
        int budget = tokens > 0 ? tokens : Math.max(1, (int) Math.ceil(ratio * fullLength - 1e-9));
        return grace > 0 ? Math.max(budget, promptLength + grace) : budget;
    }
}
