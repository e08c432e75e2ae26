package dev.lethe.schemas;

import java.util.List;

/**
 * Sampling parameters of a job. Absent JSON properties take the defaults declared in the schema
 * (the codec fills them in); {@link #withMaxTokens} gives the same defaults to Java producers.
 *
 * @param temperature 0 means greedy decoding
 * @param topP        1 disables nucleus sampling
 * @param topK        0 disables top-k
 * @param minP        0 disables min-p
 * @param seed        seed of the sampler's random generator, or null to let the worker pick one
 * @param stop        stop sequences, possibly empty
 */
public record Sampling(int maxTokens, double temperature, double topP, int topK, double minP, Long seed,
                       List<String> stop) {

    public Sampling {
        stop = stop == null ? List.of() : List.copyOf(stop);
    }

    /** The schema's defaults: temperature 1, topP 1, topK 0, minP 0, no seed, no stop sequences. */
    public static Sampling withMaxTokens(int maxTokens) {
        return new Sampling(maxTokens, 1.0, 1.0, 0, 0.0, null, List.of());
    }
}
