package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** NOTES.txt tells the person who installed the chart how to reach and watch what they installed. */
class NotesTest {

    @Test
    void notesDescribeThisInstallation() {
        String minimal = Chart.notes(Chart.MINIMAL);
        assertContains(minimal, "port-forward svc/rel-lethe-gateway 8080:80", "/v1/chat/completions",
                "\"model\":\"lethe-trace\"", "Workers: 2, decoding on CPUs", "volume rel-lethe-checkpoints",
                "120 s to checkpoint", "create the six lethe.* topics (12 partitions)", "/actuator/health/readiness");

        String full = Chart.notes(Chart.FULL);
        assertContains(full, "https://lethe.example.com/v1", "1..12 (KEDA, on the lag of group lethe-workers on lethe.requests)",
                "1 x nvidia.com/gpu each", "s3://lethe-checkpoints/checkpoints/", "180 s to checkpoint",
                "(SASL_SSL, SCRAM-SHA-512)", "KafkaTopic resources of cluster my-cluster");
        assertFalse(full.contains("port-forward"), "an Ingress is there");

        assertContains(Chart.notes(Chart.PVC), "must exist already, each with 24 partitions", "volume lethe-checkpoints");
    }

    private static void assertContains(String notes, String... parts) {
        List<String> missing = List.of(parts).stream().filter(p -> !notes.contains(p)).toList();
        assertTrue(missing.isEmpty(), "NOTES lack " + missing + ":\n" + notes);
    }
}
