package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The Kafka connection, security included, reaches every Kafka client of both services. */
class KafkaSettingsTest {

    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([A-Za-z0-9_.-]+)}");

    @Test
    void saslAndTlsReachBothServices() {
        Workloads w = Workloads.of(Chart.FULL);
        for (Deployment deployment : List.of(w.gateway(), w.worker())) {
            String name = deployment.getMetadata().getName();
            Map<String, String> config = w.config(deployment);
            assertEquals("my-cluster-kafka-bootstrap.kafka:9093", config.get("spring.kafka.bootstrap-servers"), name);
            assertEquals("SASL_SSL", config.get("spring.kafka.properties.security.protocol"), name);
            assertEquals("SCRAM-SHA-512", config.get("spring.kafka.properties.sasl.mechanism"), name);
            assertEquals("org.apache.kafka.common.security.scram.ScramLoginModule required username=\"lethe\" "
                    + "password=\"${LETHE_KAFKA_SASL_PASSWORD}\";", config.get("spring.kafka.properties.sasl.jaas.config"), name);
            assertEquals("use_all_dns_ips", config.get("spring.kafka.properties.client.dns.lookup"), name);

            SecretKeySelector password = secretRef(deployment, "LETHE_KAFKA_SASL_PASSWORD");
            assertEquals(List.of("lethe-kafka-user", "password"), List.of(password.getName(), password.getKey()), name);

            // The trust store file is where the CA Secret is mounted, under its key's name.
            String location = config.get("spring.kafka.properties.ssl.truststore.location");
            var mount = Workloads.container(deployment).getVolumeMounts().stream()
                    .filter(m -> location.startsWith(m.getMountPath() + "/")).findFirst()
                    .orElseThrow(() -> new AssertionError(name + ": nothing is mounted where the trust store is read: " + location));
            Volume volume = Workloads.pod(deployment).getVolumes().stream()
                    .filter(v -> v.getName().equals(mount.getName())).findFirst().orElseThrow();
            assertEquals("my-cluster-cluster-ca-cert", volume.getSecret().getSecretName(), name);
            assertEquals("ca.p12", location.substring(mount.getMountPath().length() + 1), name);
            assertEquals("PKCS12", config.get("spring.kafka.properties.ssl.truststore.type"), name);
            SecretKeySelector storePassword = secretRef(deployment, "LETHE_KAFKA_TRUSTSTORE_PASSWORD");
            assertEquals(List.of("my-cluster-cluster-ca-cert", "ca.password"),
                    List.of(storePassword.getName(), storePassword.getKey()), name);
        }
        // The password itself is in no ConfigMap, Deployment or Secret of the chart: it stays in the user's Secret.
        assertNull(EffectiveConfig.secretValue(w.secret(), "kafka-sasl-password"));
    }

    @Test
    void anInlinePasswordLivesOnlyInTheChartsSecret() {
        Manifests manifests = Chart.render(Chart.MINIMAL, Map.of("kafka.securityProtocol", "SASL_PLAINTEXT",
                "kafka.sasl.mechanism", "PLAIN", "kafka.sasl.username", "svc", "kafka.sasl.password", "s3cr3t-Pa55"));
        Workloads w = Workloads.of(manifests);
        assertEquals("s3cr3t-Pa55", EffectiveConfig.secretValue(w.secret(), "kafka-sasl-password"));
        for (Deployment deployment : List.of(w.gateway(), w.worker())) {
            Map<String, String> config = w.config(deployment);
            assertTrue(config.get("spring.kafka.properties.sasl.jaas.config")
                    .startsWith("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"svc\""));
            assertFalse(config.values().stream().anyMatch(v -> v != null && v.contains("s3cr3t-Pa55")));
            assertEquals(Chart.RELEASE + "-lethe-secret", secretRef(deployment, "LETHE_KAFKA_SASL_PASSWORD").getName());
            assertNull(config.get("spring.kafka.properties.ssl.truststore.location"), "TLS is off");
        }
        assertEquals(1, manifests.text().split("s3cr3t-Pa55", -1).length - 1, "the password is written once, in the Secret");
    }

    @ParameterizedTest
    @ValueSource(strings = {Chart.MINIMAL, Chart.FULL, Chart.PVC})
    void everyPlaceholderInTheConfigIsAnEnvironmentVariableOfTheContainer(String valuesFile) {
        Workloads w = Workloads.of(valuesFile);
        for (Deployment deployment : List.of(w.gateway(), w.worker())) {
            for (String value : w.config(deployment).values()) {
                Matcher m = PLACEHOLDER.matcher(value == null ? "" : value);
                while (m.find()) {
                    assertTrue(Workloads.env(deployment, m.group(1)).isPresent(),
                            deployment.getMetadata().getName() + " has no env " + m.group(1) + " for " + value);
                }
            }
        }
    }

    @Test
    void plaintextMeansNoSecurityProperties() {
        Workloads w = Workloads.of(Chart.MINIMAL);
        for (Deployment deployment : List.of(w.gateway(), w.worker())) {
            Map<String, String> config = w.config(deployment);
            assertEquals("PLAINTEXT", config.get("spring.kafka.properties.security.protocol"));
            assertEquals(List.of(), config.keySet().stream()
                    .filter(k -> k.startsWith("spring.kafka.properties.sasl") || k.startsWith("spring.kafka.properties.ssl")).toList());
            assertTrue(Workloads.env(deployment, "LETHE_KAFKA_SASL_PASSWORD").isEmpty());
        }
    }

    @Test
    void servicesCreateTopicsOnlyWhenNothingElseManagesThem() {
        assertTopicCreation(Chart.MINIMAL, "true");
        assertTopicCreation(Chart.FULL, "false");   // Strimzi manages them
        assertTopicCreation(Chart.PVC, "false");    // createAtStartup: false
        Workloads w = Workloads.of(Chart.PVC);
        assertEquals("24", w.config(w.worker()).get("lethe.worker.topics.partitions"));
        assertEquals("24", w.config(w.gateway()).get("lethe.gateway.kafka.partitions"));
    }

    private static void assertTopicCreation(String valuesFile, String expected) {
        Workloads w = Workloads.of(valuesFile);
        assertEquals(expected, w.config(w.worker()).get("lethe.worker.topics.create"), valuesFile);
        assertEquals(expected, w.config(w.gateway()).get("lethe.gateway.kafka.create-topics"), valuesFile);
    }

    private static SecretKeySelector secretRef(Deployment deployment, String env) {
        var var = Workloads.env(deployment, env).orElseThrow(() -> new AssertionError(deployment.getMetadata().getName() + " has no env " + env));
        assertNotNull(var.getValueFrom(), env + " is not read from a Secret");
        return var.getValueFrom().getSecretKeyRef();
    }
}
