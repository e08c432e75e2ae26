package dev.lethe.cache.policy;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads a {@link PolicySpec}'s string parameters with types, defaults and range checks, and records the
 * effective value of each one read. Every error names the policy and the parameter.
 */
final class Params {
    private final PolicySpec spec;
    private final TreeMap<String, String> effective = new TreeMap<>();
    private final Set<String> known = new LinkedHashSet<>();

    Params(PolicySpec spec) {
        this.spec = spec;
    }

    String policy() {
        return spec.name();
    }

    boolean has(String key) {
        known.add(key);
        return spec.parameters().containsKey(key);
    }

    double real(String key, double defaultValue) {
        known.add(key);
        String text = spec.parameters().get(key);
        double value;
        if (text == null) {
            value = defaultValue;
        } else {
            try {
                value = Double.parseDouble(text.strip());
            } catch (NumberFormatException e) {
                throw invalid(key, "must be a number, got '" + text + "'");
            }
            if (!Double.isFinite(value)) throw invalid(key, "must be finite, got " + text);
        }
        effective.put(key, Double.toString(value));
        return value;
    }

    /**
     * A yes/no parameter: true or 1, false or 0. Its effective value is written 1 or 0, so that it travels in the
     * job request's and the checkpoint manifest's numeric parameters like any other.
     */
    boolean flag(String key, boolean defaultValue) {
        known.add(key);
        String text = spec.parameters().get(key);
        boolean value;
        if (text == null) {
            value = defaultValue;
        } else {
            value = switch (text.strip()) {
                case "true", "1" -> true;
                case "false", "0" -> false;
                default -> throw invalid(key, "must be true or false (1 or 0), got '" + text + "'");
            };
        }
        effective.put(key, value ? "1" : "0");
        return value;
    }

    int integer(String key, int defaultValue) {
        known.add(key);
        String text = spec.parameters().get(key);
        int value;
        if (text == null) {
            value = defaultValue;
        } else {
            try {
                value = Integer.parseInt(text.strip());
            } catch (NumberFormatException e) {
                throw invalid(key, "must be an integer, got '" + text + "'");
            }
        }
        effective.put(key, Integer.toString(value));
        return value;
    }

    double ratio(String key, double defaultValue) {
        double value = real(key, defaultValue);
        if (value < 0 || value > 1) throw invalid(key, "must be in [0, 1], got " + value);
        return value;
    }

    int nonNegative(String key, int defaultValue) {
        int value = integer(key, defaultValue);
        if (value < 0) throw invalid(key, "must not be negative, got " + value);
        return value;
    }

    int positive(String key, int defaultValue) {
        int value = integer(key, defaultValue);
        if (value <= 0) throw invalid(key, "must be positive, got " + value);
        return value;
    }

    IllegalArgumentException invalid(String key, String problem) {
        return new IllegalArgumentException("KV policy " + spec.name() + ": parameter '" + key + "' " + problem);
    }

    /** The spec with every effective parameter; refuses parameters the policy never read (typos). */
    PolicySpec finish() {
        for (String key : spec.parameters().keySet()) {
            if (!known.contains(key)) {
                throw new IllegalArgumentException("KV policy " + spec.name() + ": unknown parameter '" + key
                        + "' (known: " + String.join(", ", known) + ")");
            }
        }
        return new PolicySpec(spec.name(), effective);
    }
}
