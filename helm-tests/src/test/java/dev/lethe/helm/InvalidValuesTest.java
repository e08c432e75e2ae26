package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Wrong values stop {@code helm template} (and so install and upgrade) with a message that names the
 * value: values.schema.json for single values, the chart's checks for combinations.
 */
class InvalidValuesTest {

    static Stream<Arguments> invalidValues() {
        return Stream.of(
                // values.schema.json
                Arguments.of(Map.of("worker.replicas", -1), "at '/worker/replicas': minimum: got -1, want 0"),
                Arguments.of(Map.of("gateway.replicas", -2), "at '/gateway/replicas': minimum: got -2, want 0"),
                Arguments.of(Map.of("checkpoints.store", "nfs"), "at '/checkpoints/store': value must be one of 'pvc', 's3'"),
                Arguments.of(Map.of("gateway.replica", 3), "additional properties 'replica' not allowed"),
                Arguments.of(Map.of("worker.kvPolicy", "lru"), "at '/worker/kvPolicy'"),
                Arguments.of(Map.of("kafka.securityProtocol", "TLS"), "at '/kafka/securityProtocol'"),
                Arguments.of(Map.of("kafka.bootstrapServers", "kafka"), "at '/kafka/bootstrapServers'"),
                Arguments.of(Map.of("gateway.tenants[0].apiKeySha256[0]", "not-a-digest"),
                        "at '/gateway/tenants/0/apiKeySha256/0'"),
                Arguments.of(Map.of("gateway.tenants[0].apiKeys[0]", "short"), "at '/gateway/tenants/0/apiKeys/0'"),
                Arguments.of(Map.of("worker.terminationGracePeriodSeconds", 10),
                        "at '/worker/terminationGracePeriodSeconds': minimum: got 10, want 30"),
                Arguments.of(Map.of("worker.gpu.count", 0), "at '/worker/gpu/count'"),
                Arguments.of(Map.of("gateway.rateLimit.refreshPeriod", "1 second"), "at '/gateway/rateLimit/refreshPeriod'"),
                Arguments.of(Map.of("gateway.pdb.maxUnavailable", 0), "at '/gateway/pdb/maxUnavailable'"),
                // the chart's own checks
                Arguments.of(Map.of("kafka.securityProtocol", "SASL_SSL"),
                        "kafka.sasl.mechanism must be set (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) when kafka.securityProtocol is SASL_SSL"),
                Arguments.of(Map.of("kafka.securityProtocol", "SASL_SSL", "kafka.sasl.mechanism", "PLAIN", "kafka.sasl.username", "u"),
                        "kafka.sasl.password or kafka.sasl.existingSecret must be set"),
                Arguments.of(Map.of("kafka.sasl.mechanism", "PLAIN"),
                        "kafka.sasl.mechanism is PLAIN but kafka.securityProtocol PLAINTEXT uses no SASL"),
                Arguments.of(Map.of("kafka.tls.truststore.secretName", "ca"),
                        "kafka.tls.truststore.secretName is set but kafka.securityProtocol PLAINTEXT uses no TLS"),
                Arguments.of(Map.of("worker.autoscaling.enabled", true, "worker.autoscaling.maxReplicas", 20),
                        "worker.autoscaling.maxReplicas (20) exceeds kafka.topics.partitions (12)"),
                Arguments.of(Map.of("worker.autoscaling.enabled", true, "worker.autoscaling.minReplicas", 5,
                        "worker.autoscaling.maxReplicas", 4), "worker.autoscaling.minReplicas (5) exceeds worker.autoscaling.maxReplicas (4)"),
                Arguments.of(Map.of("worker.terminationGracePeriodSeconds", 40, "worker.preStopSleepSeconds", 30),
                        "worker.terminationGracePeriodSeconds (40) must be at least worker.preStopSleepSeconds + 20 (50)"),
                Arguments.of(Map.of("checkpoints.store", "s3"), "checkpoints.s3.bucket must be set when checkpoints.store is s3"),
                Arguments.of(Map.of("checkpoints.store", "s3", "checkpoints.s3.bucket", "b",
                        "checkpoints.s3.credentials.accessKeyId", "AKIA"), "give both accessKeyId and secretAccessKey, or neither"),
                Arguments.of(Map.of("kafka.topics.strimzi.enabled", true),
                        "kafka.topics.strimzi.clusterName must name the Strimzi Kafka cluster"),
                Arguments.of(Map.of("gateway.tenants[1].name", "team-c"), "gateway.tenants[1] (team-c) has no key: give apiKeySha256 or apiKeys"));
    }

    @ParameterizedTest
    @MethodSource("invalidValues")
    void failsWithAMessageNamingTheValue(Map<String, Object> sets, String expected) {
        String message = Chart.renderError(Chart.MINIMAL, sets);
        assertTrue(message.contains(expected), "for " + sets + " expected the message to contain\n  " + expected
                + "\nbut Helm said\n  " + message);
    }
}
