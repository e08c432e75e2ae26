package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** API keys reach the gateway as SHA-256 digests only, wherever they were given as. */
class ApiKeysTest {

    @Test
    void givenDigestsAreStoredAsTheyAreAndNothingElse() {
        Workloads w = Workloads.of(Chart.FULL);
        Map<String, String> config = w.config(w.gateway());
        assertEquals(List.of("team-a", "team-b"), List.of(config.get("lethe.gateway.tenants[0].name"),
                config.get("lethe.gateway.tenants[1].name")));
        assertEquals(List.of(sha256("team-a-key-0123456789")), digests(config, 0));
        assertEquals(List.of("0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c",
                "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"), digests(config, 1));
        assertEquals("10", config.get("lethe.gateway.tenants[1].rate-limit.limit-for-period"));
        assertNull(config.get("lethe.gateway.tenants[0].rate-limit.limit-for-period"), "team-a has the default limit");
        assertNoPlainKeyProperty(config);
        // The one key whose plain form we know (the values file's comment) appears nowhere.
        assertFalse(Chart.render(Chart.FULL).text().contains("team-a-key-0123456789"));
    }

    @Test
    void plainKeysAreHashedWhileRenderingAndNeverWritten() {
        Manifests manifests = Chart.render(Chart.PVC);
        Workloads w = Workloads.of(manifests);
        Map<String, String> config = w.config(w.gateway());
        assertEquals(List.of(sha256("team-a-plain-key-0123456789")), digests(config, 0));
        // Given digests come first (lower-cased), then the digests of the plain keys.
        assertEquals(List.of("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
                sha256("team-b-plain-key-0123456789")), digests(config, 1));
        assertNoPlainKeyProperty(config);
        for (String plain : List.of("team-a-plain-key-0123456789", "team-b-plain-key-0123456789")) {
            assertFalse(manifests.text().contains(plain), "a plain API key is in the rendered manifests");
        }
    }

    @Test
    void onlyTheGatewayReadsTheKeysAndOnlyItRestartsWhenTheyChange() {
        Workloads before = Workloads.of(Chart.MINIMAL);
        Workloads after = Workloads.of(Chart.render(Chart.MINIMAL,
                Map.of("gateway.tenants[0].apiKeySha256[0]", sha256("a-rotated-key-0123456789"))));
        assertFalse(Workloads.pod(before.worker()).getVolumes().stream()
                .anyMatch(v -> v.getSecret() != null), "the worker mounts the chart's Secret");
        String key = "checksum/secret";
        assertFalse(annotation(before.gateway(), key).equals(annotation(after.gateway(), key)),
                "rotating a key does not roll the gateways");
        assertEquals(annotation(before.worker(), key), annotation(after.worker(), key),
                "rotating a key restarts the workers, moving every running job");
        assertEquals(annotation(before.worker(), "checksum/config"), annotation(after.worker(), "checksum/config"));
    }

    private static String annotation(io.fabric8.kubernetes.api.model.apps.Deployment deployment, String key) {
        return deployment.getSpec().getTemplate().getMetadata().getAnnotations().get(key);
    }

    private static List<String> digests(Map<String, String> config, int tenant) {
        String prefix = "lethe.gateway.tenants[" + tenant + "].api-key-sha256[";
        return config.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).map(Map.Entry::getValue).toList();
    }

    private static void assertNoPlainKeyProperty(Map<String, String> config) {
        // lethe.gateway.tenants[].api-keys is where the gateway would take plain keys.
        assertEquals(List.of(), config.keySet().stream().filter(k -> k.contains("api-keys")).toList());
    }

    static String sha256(String key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
