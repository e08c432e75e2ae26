package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.node.ObjectNode;

/** Every manifest of every ci values file is one the API server would accept, and they fit together. */
class RenderedManifestsTest {

    @ParameterizedTest
    @ValueSource(strings = {Chart.MINIMAL, Chart.FULL, Chart.PVC})
    void everyManifestIsValid(String valuesFile) {
        Manifests manifests = Chart.render(valuesFile);
        assertFalse(manifests.documents().isEmpty(), "nothing rendered");
        List<String> problems = new ArrayList<>();
        List<HasMetadata> builtIn = new ArrayList<>();
        for (ObjectNode document : manifests.documents()) {
            if (KubernetesTypes.isBuiltIn(document)) {
                KubernetesTypes.Result result = KubernetesTypes.check(document);
                problems.addAll(result.problems());
                result.valid().ifPresent(builtIn::add);
            } else if (CrdSchemas.knows(document)) {
                problems.addAll(CrdSchemas.check(document));
            } else {
                problems.add("a kind no check knows: " + document.path("apiVersion").asString("") + " "
                        + document.path("kind").asString(""));
            }
        }
        problems.addAll(ManifestRules.check(builtIn));
        assertEquals(List.of(), problems, valuesFile);
    }

    @Test
    void eachValuesFileRendersTheExpectedKinds() {
        assertEquals(Set.of("ConfigMap", "Deployment", "PersistentVolumeClaim", "PodDisruptionBudget", "Secret",
                "Service", "ServiceAccount"), kinds(Chart.MINIMAL));
        assertEquals(Set.of("ConfigMap", "Deployment", "Ingress", "KafkaTopic", "PodDisruptionBudget", "ScaledObject",
                "Secret", "Service", "ServiceAccount", "TriggerAuthentication"), kinds(Chart.FULL));
        // An existing claim is used, not created; the gateway's budget is turned off.
        assertEquals(Set.of("ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount"),
                kinds(Chart.PVC));
        assertEquals(1, Chart.render(Chart.PVC).ofKind("PodDisruptionBudget").size());
        assertEquals(2, Chart.render(Chart.MINIMAL).ofKind("PodDisruptionBudget").size());
    }

    @Test
    void theValidatorsRefuseBrokenManifests() {
        // The checks above are only worth something if they catch the mistakes templates make.
        ObjectNode deployment = Chart.render(Chart.MINIMAL).component("Deployment", "worker").deepCopy();
        ObjectNode misspelt = deployment.deepCopy();
        ((ObjectNode) misspelt.path("spec").path("template").path("spec")).put("terminationGracePeriod", 120);
        assertTrue(KubernetesTypes.check(misspelt).problems().toString().contains("terminationGracePeriod"),
                KubernetesTypes.check(misspelt).problems().toString());

        ObjectNode quotedNumber = deployment.deepCopy();
        ((ObjectNode) quotedNumber.path("spec")).put("replicas", "2");
        assertFalse(KubernetesTypes.check(quotedNumber).problems().isEmpty(), "a quoted replica count passed");

        ObjectNode numericAnnotation = deployment.deepCopy();
        ((ObjectNode) numericAnnotation.path("spec").path("template").path("metadata").path("annotations"))
                .put("prometheus.io/port", 8081);
        assertFalse(KubernetesTypes.check(numericAnnotation).problems().isEmpty(), "an unquoted annotation value passed");

        ObjectNode scaledObject = Chart.render(Chart.FULL).ofKind("ScaledObject").getFirst().deepCopy();
        ((ObjectNode) scaledObject.path("spec").path("triggers").get(0).path("metadata")).put("lagThreshold", 8);
        assertFalse(CrdSchemas.check(scaledObject).isEmpty(), "a numeric KEDA trigger parameter passed");

        ObjectNode badPort = deployment.deepCopy();
        ((ObjectNode) badPort.path("spec").path("template").path("spec").path("containers").get(0)
                .path("readinessProbe").path("httpGet")).put("port", "metrics");
        HasMetadata bound = KubernetesTypes.check(badPort).object();
        assertTrue(ManifestRules.check(List.of(bound)).toString().contains("port metrics"),
                ManifestRules.check(List.of(bound)).toString());
    }

    private static Set<String> kinds(String valuesFile) {
        Set<String> kinds = new TreeSet<>();
        Chart.render(valuesFile).documents().forEach(d -> kinds.add(d.path("kind").asString("")));
        return kinds;
    }
}
