package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.schemas.Topics;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** KEDA, Strimzi and Ingress objects appear only when asked for, and point at the right things. */
class OptionalResourcesTest {

    private static final List<String> OPTIONAL = List.of("ScaledObject", "TriggerAuthentication", "KafkaTopic", "Ingress");

    @Test
    void nothingOptionalByDefault() {
        for (String valuesFile : List.of(Chart.MINIMAL, Chart.PVC)) {
            for (String kind : OPTIONAL) {
                assertEquals(List.of(), Chart.render(valuesFile).ofKind(kind), valuesFile + " renders a " + kind);
            }
        }
    }

    @Test
    void eachOptionalResourceFollowsItsOwnSwitch() {
        assertEquals(List.of("ScaledObject"), optionalKinds(Map.of("worker.autoscaling.enabled", true)),
                "KEDA on a plaintext cluster needs no TriggerAuthentication");
        assertEquals(List.of("KafkaTopic"), optionalKinds(Map.of("kafka.topics.strimzi.enabled", true,
                "kafka.topics.strimzi.clusterName", "c")));
        assertEquals(List.of("Ingress"), optionalKinds(Map.of("gateway.ingress.enabled", true)));
    }

    @Test
    void kedaScalesTheWorkersOnTheLagOfTheirOwnGroupOnTheRequestsTopic() {
        Manifests manifests = Chart.render(Chart.FULL);
        Workloads w = Workloads.of(manifests);
        ObjectNode scaled = manifests.ofKind("ScaledObject").getFirst();
        JsonNode spec = scaled.path("spec");
        assertEquals(w.worker().getMetadata().getName(), spec.path("scaleTargetRef").path("name").asString());
        assertEquals(1, spec.path("minReplicaCount").asInt());
        assertEquals(12, spec.path("maxReplicaCount").asInt());
        JsonNode trigger = spec.path("triggers").get(0);
        assertEquals("kafka", trigger.path("type").asString());
        JsonNode metadata = trigger.path("metadata");
        assertEquals(Topics.REQUESTS, metadata.path("topic").asString());
        Map<String, String> workerConfig = w.config(w.worker());
        assertEquals(workerConfig.get("spring.kafka.consumer.group-id"), metadata.path("consumerGroup").asString(),
                "KEDA watches another group than the workers'");
        assertEquals("lethe-workers", metadata.path("consumerGroup").asString());
        assertEquals(workerConfig.get("spring.kafka.bootstrap-servers"), metadata.path("bootstrapServers").asString());
        assertEquals("8", metadata.path("lagThreshold").asString());
        assertTrue(spec.path("maxReplicaCount").asInt() <= Integer.parseInt(workerConfig.get("lethe.worker.topics.partitions")),
                "more workers than partitions");

        // The scaler authenticates like the workers: SCRAM-SHA-512 over TLS with the cluster CA.
        ObjectNode auth = manifests.one("TriggerAuthentication", trigger.path("authenticationRef").path("name").asString());
        Map<String, String> parameters = new LinkedHashMap<>();
        for (JsonNode ref : auth.path("spec").path("secretTargetRef")) {
            String secret = ref.path("name").asString();
            String key = ref.path("key").asString();
            String value = secret.equals(w.secret().getMetadata().getName())
                    ? EffectiveConfig.secretValue(w.secret(), key) : secret + "/" + key;
            parameters.put(ref.path("parameter").asString(), value);
        }
        assertEquals(Map.of("sasl", "scram_sha512", "username", "lethe", "password", "lethe-kafka-user/password",
                "tls", "enable", "ca", "my-cluster-cluster-ca-cert/ca.crt"), parameters);
    }

    @Test
    void kedaSpeaksTheSaslModeOfEachMechanism() {
        Map<String, String> expected = Map.of("PLAIN", "plaintext", "SCRAM-SHA-256", "scram_sha256", "SCRAM-SHA-512", "scram_sha512");
        expected.forEach((mechanism, mode) -> {
            Workloads w = Workloads.of(Chart.render(Chart.MINIMAL, Map.of("worker.autoscaling.enabled", true,
                    "kafka.securityProtocol", "SASL_PLAINTEXT", "kafka.sasl.mechanism", mechanism,
                    "kafka.sasl.username", "u", "kafka.sasl.password", "p")));
            assertEquals(mode, EffectiveConfig.secretValue(w.secret(), "keda-kafka-sasl"), mechanism);
            assertEquals(null, EffectiveConfig.secretValue(w.secret(), "keda-kafka-tls"), "TLS is off");
        });
    }

    @Test
    void theIngressRoutesOnlyTheApiToTheGateway() {
        Manifests manifests = Chart.render(Chart.FULL);
        Ingress ingress = KubernetesTypes.bind(manifests.ofKind("Ingress").getFirst(), Ingress.class);
        assertEquals("nginx", ingress.getSpec().getIngressClassName());
        var paths = ingress.getSpec().getRules().getFirst().getHttp().getPaths();
        assertEquals(List.of("/v1"), paths.stream().map(p -> p.getPath()).toList(), "/actuator must stay inside the cluster");
        assertEquals(Chart.RELEASE + "-lethe-gateway", paths.getFirst().getBackend().getService().getName());
        assertEquals("lethe-tls", ingress.getSpec().getTls().getFirst().getSecretName());
        assertEquals("off", ingress.getMetadata().getAnnotations().get("nginx.ingress.kubernetes.io/proxy-buffering"));
    }

    private static List<String> optionalKinds(Map<String, Object> sets) {
        Manifests manifests = Chart.render(Chart.MINIMAL, sets);
        return OPTIONAL.stream().filter(kind -> !manifests.ofKind(kind).isEmpty()).toList();
    }
}
