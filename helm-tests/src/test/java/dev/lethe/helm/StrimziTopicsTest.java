package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lethe.schemas.Topics;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** The KafkaTopic resources are the topics of kafka-schemas' Topics, with the same configs. */
class StrimziTopicsTest {

    @Test
    void theSixTopicsMatchTopicsJava() {
        List<ObjectNode> topics = Chart.render(Chart.FULL).ofKind("KafkaTopic");
        assertEquals(Topics.ALL.stream().map(Topics.Spec::name).sorted().toList(),
                topics.stream().map(t -> topicName(t)).sorted().toList());
        for (ObjectNode topic : topics) {
            String name = topicName(topic);
            Map<String, String> expected = new HashMap<>(Topics.spec(name).configs());
            expected.put("min.insync.replicas", "2"); // kafka.topics.strimzi.extraConfig in full-values.yaml
            assertEquals(expected, configs(topic), name);
            // One partition count for all, which keeps requests, jobs, checkpoints and control co-partitioned.
            assertEquals(12, topic.path("spec").path("partitions").asInt(), name);
            assertEquals(3, topic.path("spec").path("replicas").asInt(), name);
            assertEquals("my-cluster", topic.path("metadata").path("labels").path("strimzi.io/cluster").asString(), name);
            assertEquals("kafka", topic.path("metadata").path("namespace").asString(), name);
            assertEquals("keep", topic.path("metadata").path("annotations").path("helm.sh/resource-policy").asString(),
                    name + ": uninstalling the chart would delete every job");
        }
    }

    @Test
    void withoutExtraConfigTheConfigsAreExactlyTopicsJavas() {
        Manifests manifests = Chart.render(Chart.MINIMAL, Map.of("kafka.topics.strimzi.enabled", true,
                "kafka.topics.strimzi.clusterName", "c", "kafka.topics.strimzi.apiVersion", "kafka.strimzi.io/v1",
                "kafka.topics.partitions", Topics.DEFAULT_PARTITIONS));
        List<ObjectNode> topics = manifests.ofKind("KafkaTopic");
        assertEquals(Topics.ALL.size(), topics.size());
        for (ObjectNode topic : topics) {
            assertEquals(Topics.spec(topicName(topic)).configs(), configs(topic));
            assertEquals("kafka.strimzi.io/v1", topic.path("apiVersion").asString());
            assertEquals(List.of(), CrdSchemas.check(topic));
            assertEquals(false, topic.path("metadata").has("namespace"), "defaults to the release namespace");
        }
    }

    private static String topicName(ObjectNode topic) {
        JsonNode explicit = topic.path("spec").path("topicName");
        return explicit.isMissingNode() ? topic.path("metadata").path("name").asString() : explicit.asString();
    }

    private static Map<String, String> configs(ObjectNode topic) {
        Map<String, String> configs = new HashMap<>();
        for (Map.Entry<String, JsonNode> entry : topic.path("spec").path("config").properties()) {
            configs.put(entry.getKey(), entry.getValue().asString());
        }
        return configs;
    }
}
