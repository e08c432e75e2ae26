package dev.lethe.worker;

import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.schemas.KvPolicy;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads a request's KV policy into {@code lethe-cache}'s terms. The request schema names policies and parameters
 * the way a JSON client would ({@code streaming-llm}, {@code r-kv}; {@code tau}, {@code recentRatio}); the cache
 * library uses {@code streamingllm}, {@code rkv}, {@code sparse-ratio}, {@code recent-ratio}. Both spellings
 * are accepted; the policy itself then checks the names and values.
 */
final class KvPolicies {
    /** Parameter names of the schema's documentation that differ from the library's by more than spelling. */
    private static final Map<String, String> ALIASES = Map.of("tau", "sparse-ratio");

    private KvPolicies() {}

    static PolicySpec toSpec(KvPolicy policy) {
        String name = policy.name().replace("-", "");
        Map<String, String> parameters = new TreeMap<>();
        for (Map.Entry<String, Double> e : policy.parameters().entrySet()) {
            String key = kebab(e.getKey());
            key = ALIASES.getOrDefault(key, key);
            if (parameters.put(key, number(e.getValue())) != null) {
                throw new IllegalArgumentException("KV policy " + policy.name() + ": parameter '" + key + "' is given twice");
            }
        }
        return PolicySpec.of(name, parameters);
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

    /** {@code recentRatio} → {@code recent-ratio}; already kebab-case names stay as they are. */
    static String kebab(String name) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isUpperCase(c)) {
                if (i > 0) out.append('-');
                out.append(Character.toLowerCase(c));
            } else {
                out.append(c == '_' ? '-' : c);
            }
        }
        return out.toString().toLowerCase(Locale.ROOT);
    }

    /** Whole numbers without a fraction, since integer parameters ({@code delta}, {@code sinks}) refuse "256.0". */
    private static String number(double value) {
        if (value == Math.rint(value) && Math.abs(value) < 1e15) return Long.toString((long) value);
        return Double.toString(value);
    }
}
