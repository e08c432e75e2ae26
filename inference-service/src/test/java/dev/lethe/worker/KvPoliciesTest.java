package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lethe.cache.KvLayout;
import dev.lethe.cache.policy.Policies;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.schemas.KvPolicy;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A request's numeric policy parameters become the library's spec, and an effective spec goes back into numbers. */
class KvPoliciesTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 1, 4);

    @Test
    void wholeNumbersLoseTheirFractionSoIntegerParametersAcceptThem() {
        PolicySpec spec = KvPolicies.toSpec(new KvPolicy("lethe", Map.of("delta", 64.0, "sparse-ratio", 1.2, "keep-prompt", 1.0)));
        assertEquals(PolicySpec.of("lethe", "delta", "64", "keep-prompt", "1", "sparse-ratio", "1.2"), spec);
        assertEquals("1", Policies.create(spec, LAYOUT).spec().parameters().get("keep-prompt"), "a request can keep the prompt");
    }

    @Test
    void anEffectiveSpecTravelsAsNumbersWithKeepPromptIncluded() {
        PolicySpec effective = Policies.create(PolicySpec.of("lethe", "keep-prompt", "true", "delta", "64"), LAYOUT).spec();
        KvPolicy schema = KvPolicies.toSchema(effective);
        assertEquals(1.0, schema.parameters().get("keep-prompt"));
        assertEquals(64.0, schema.parameters().get("delta"));
        assertEquals(effective.parameters().size(), schema.parameters().size(), "every effective parameter is a number");
        assertEquals(effective, Policies.create(KvPolicies.toSpec(schema), LAYOUT).spec(), "and rebuilds the same policy");
    }
}
