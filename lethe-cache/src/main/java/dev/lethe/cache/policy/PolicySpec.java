package dev.lethe.cache.policy;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A policy name plus its parameters as strings, as a command line gives them
 * ({@code --kv-policy lethe --sparse-ratio 400} becomes {@code ("lethe", {sparse-ratio=400})}).
 * Parameters are validated when the policy is built ({@link Policies#create}); the spec a built policy reports
 * holds every effective parameter, defaults included, in sorted order.
 */
public record PolicySpec(String name, Map<String, String> parameters) {

    public PolicySpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(parameters, "parameters");
        if (name.isBlank()) throw new IllegalArgumentException("policy name must not be blank");
        name = name.strip().toLowerCase(java.util.Locale.ROOT);
        parameters = java.util.Collections.unmodifiableMap(new TreeMap<>(parameters));
    }

    public static PolicySpec of(String name, Map<String, String> parameters) {
        return new PolicySpec(name, parameters);
    }

    /** The policy that never evicts. */
    public static PolicySpec full() {
        return new PolicySpec("full", java.util.Map.of());
    }

    /** {@code of("h2o", "budget", "512", "recent-ratio", "0.5")}. */
    public static PolicySpec of(String name, String... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("parameters must come as key/value pairs, got " + keysAndValues.length + " strings");
        }
        var map = new TreeMap<String, String>();
        for (int i = 0; i < keysAndValues.length; i += 2) map.put(keysAndValues[i], keysAndValues[i + 1]);
        return new PolicySpec(name, map);
    }

    @Override
    public String toString() {
        return name + parameters.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining(",", "{", "}"));
    }
}
