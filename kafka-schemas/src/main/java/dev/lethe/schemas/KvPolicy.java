package dev.lethe.schemas;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A KV-cache eviction policy by name with its numeric parameters (for {@code lethe}: sparse-ratio, delta,
 * gamma, recent-ratio, sinks, segments). Parameters not given take the policy's own defaults.
 */
public record KvPolicy(String name, Map<String, Double> parameters) {

    public KvPolicy {
        Objects.requireNonNull(name, "name");
        // Sorted, so that an encoded policy always reads the same, whatever map the caller built.
        parameters = parameters == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(parameters));
    }
}
