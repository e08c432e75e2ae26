package dev.lethe.cache.policy;

import dev.lethe.cache.KvLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PolicyValidationTest {
    private static final KvLayout LAYOUT = new KvLayout(4, 2, 8);

    @ParameterizedTest(name = "{0} {1}={2}")
    @CsvSource({
            "lethe, sparse-ratio, 1",
            "lethe, sparse-ratio, 0.5",
            "lethe, sparse-ratio, -400",
            "lethe, sparse-ratio, lots",
            "lethe, sparse-ratio, NaN",
            "lethe, recent-ratio, 1.5",
            "lethe, recent-ratio, -0.1",
            "lethe, gamma, 1.01",
            "lethe, gamma, -1",
            "lethe, delta, -1",
            "lethe, sinks, -4",
            "lethe, segments, 0",
            "lethe, token-cap, -10",
            "lethe, delta, 2.5",
            "streamingllm, sinks, -1",
            "streamingllm, window, 0",
            "h2o, budget, 0",
            "h2o, budget, -5",
            "h2o, budget-ratio, 0",
            "h2o, budget-ratio, 1.5",
            "h2o, recent-ratio, 2",
            "tova, budget, -1",
            "snapkv, window, 0",
            "snapkv, kernel, 4",
            "snapkv, kernel, -3",
            "snapkv, interval, 0",
            "pyramidkv, beta, 0.5",
            "rkv, lambda, 1.5",
    })
    void invalidParametersAreRefusedNamingTheParameter(String policy, String key, String value) {
        var parameters = new java.util.HashMap<String, String>(Map.of(key, value));
        boolean budgetGiven = key.startsWith("budget") || (policy.equals("streamingllm") && key.equals("window"));
        if (needsBudget(policy) && !budgetGiven) parameters.put("budget", "64");
        var e = assertThrows(IllegalArgumentException.class, () -> Policies.create(PolicySpec.of(policy, parameters), LAYOUT));
        assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(policy), e.getMessage());
    }

    private static boolean needsBudget(String policy) {
        return !policy.equals("lethe") && !policy.equals("full");
    }

    @Test
    void everySparseRatioAtMostOneIsRefused() {
        var random = new Random(11);
        for (int i = 0; i < 200; i++) {
            double tau = 1 - random.nextDouble() * 1000;
            var e = assertThrows(IllegalArgumentException.class,
                    () -> Policies.create(PolicySpec.of("lethe", "sparse-ratio", Double.toString(tau)), LAYOUT));
            assertTrue(e.getMessage().contains("'sparse-ratio'"));
        }
    }

    @Test
    void keepPromptIsTrueOrFalse() {
        for (String name : new String[]{"lethe", "streamingllm"}) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> Policies.create(PolicySpec.of(name, "keep-prompt", "yes", "budget", "8"), LAYOUT));
            assertTrue(e.getMessage().contains("'keep-prompt'") && e.getMessage().contains("true or false"), e.getMessage());
        }
        // 1 and 0 too, as a job request's numeric parameters carry it; the effective spec says 1 or 0
        assertEquals("1", Policies.create(PolicySpec.of("lethe", "keep-prompt", "1"), LAYOUT).spec().parameters().get("keep-prompt"));
        assertEquals("1", Policies.create(PolicySpec.of("lethe", "keep-prompt", "true"), LAYOUT).spec().parameters().get("keep-prompt"));
        assertEquals("0", Policies.create(PolicySpec.of("lethe", "keep-prompt", "0"), LAYOUT).spec().parameters().get("keep-prompt"));
    }

    @Test
    void unknownParametersAndPoliciesAreRefusedByName() {
        var typo = assertThrows(IllegalArgumentException.class,
                () -> Policies.create(PolicySpec.of("lethe", "sparse-ration", "400"), LAYOUT));
        assertTrue(typo.getMessage().contains("'sparse-ration'"), typo.getMessage());
        var unknown = assertThrows(IllegalArgumentException.class, () -> Policies.create(PolicySpec.of("lru"), LAYOUT));
        assertTrue(unknown.getMessage().contains("'lru'"), unknown.getMessage());
    }

    @Test
    void fixedBudgetPoliciesNeedExactlyOneBudget() {
        for (String name : new String[]{"h2o", "tova", "snapkv", "pyramidkv", "rkv", "streamingllm"}) {
            var none = assertThrows(IllegalArgumentException.class, () -> Policies.create(PolicySpec.of(name), LAYOUT));
            assertTrue(none.getMessage().contains("'budget'"), none.getMessage());
            var both = assertThrows(IllegalArgumentException.class,
                    () -> Policies.create(PolicySpec.of(name, "budget", "8", "budget-ratio", "0.5"), LAYOUT));
            assertTrue(both.getMessage().contains("budget-ratio"), both.getMessage());
        }
    }

    @Test
    void theEffectiveSpecListsEveryParameterAndRebuildsTheSamePolicy() {
        var policy = Policies.create(PolicySpec.of("lethe", "sparse-ratio", "400", "recent-ratio", "0.3"), LAYOUT);
        assertEquals(Map.of("sparse-ratio", "400.0", "recent-ratio", "0.3", "delta", "256", "gamma", "0.95",
                "sinks", "4", "keep-prompt", "0", "segments", "16", "token-cap", "0"), policy.spec().parameters());
        for (String name : Policies.NAMES) {
            var spec = name.equals("lethe") || name.equals("full") ? PolicySpec.of(name) : PolicySpec.of(name, "budget", "32");
            var first = Policies.create(spec, LAYOUT).spec();
            assertEquals(first, Policies.create(first, LAYOUT).spec(), name);
        }
    }
}
