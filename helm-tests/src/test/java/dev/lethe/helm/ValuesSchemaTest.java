package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lethe.cache.policy.Policies;
import dev.lethe.schemas.Topics;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The chart's values follow the code they configure, so a change on one side shows up here. */
class ValuesSchemaTest {

    @Test
    void theKvPolicyChoicesAreLetheCachesPolicies() throws IOException {
        JsonNode schema = Manifests.YAML.readTree(Chart.dir().resolve("values.schema.json").toFile());
        List<String> allowed = new ArrayList<>();
        schema.path("properties").path("worker").path("properties").path("kvPolicy").path("enum")
                .forEach(v -> allowed.add(v.asString()));
        assertEquals(Policies.NAMES, allowed);
    }

    @Test
    void theDefaultPartitionCountIsTopicsJavas() throws IOException {
        JsonNode values = Manifests.YAML.readTree(Chart.dir().resolve("values.yaml").toFile());
        assertEquals(Topics.DEFAULT_PARTITIONS, values.path("kafka").path("topics").path("partitions").asInt());
        assertEquals(Topics.DEFAULT_PARTITIONS, values.path("worker").path("autoscaling").path("maxReplicas").asInt());
    }
}
