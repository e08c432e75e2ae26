package dev.lethe.worker;

import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.schemas.KvPolicy;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads a request's KV policy into {@code lethe-cache}'s terms. The request schema uses the library's own names
 * (those of the command line), so this only turns the JSON numbers into the strings a {@link PolicySpec} holds;
 * the policy itself then checks the names and values.
 */
final class KvPolicies {
    private KvPolicies() {}

    static PolicySpec toSpec(KvPolicy policy) {
        Map<String, String> parameters = new TreeMap<>();
        for (Map.Entry<String, Double> e : policy.parameters().entrySet()) parameters.put(e.getKey(), number(e.getValue()));
        return PolicySpec.of(policy.name(), parameters);
    }

    /** A policy as manifests and requests write it: the library's names, numeric parameters as numbers. */
    static KvPolicy toSchema(PolicySpec spec) {
        Map<String, Double> parameters = new TreeMap<>();
        for (Map.Entry<String, String> e : spec.parameters().entrySet()) {
            try {
                parameters.put(e.getKey(), Double.parseDouble(e.getValue()));
            } catch (NumberFormatException notANumber) {
                // The schema carries numbers only; the checkpoint's own header has the policy in full.
            }
        }
        return new KvPolicy(spec.name(), parameters);
    }

    /** Whole numbers without a fraction, since integer parameters ({@code delta}, {@code sinks}) refuse "256.0". */
    private static String number(double value) {
        if (value == Math.rint(value) && Math.abs(value) < 1e15) return Long.toString((long) value);
        return Double.toString(value);
    }
}
