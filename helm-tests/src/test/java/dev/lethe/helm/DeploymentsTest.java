package dev.lethe.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Probes, graceful stops, GPUs, models and checkpoint storage, as the two Deployments render them. */
class DeploymentsTest {

    @ParameterizedTest
    @ValueSource(strings = {Chart.MINIMAL, Chart.FULL, Chart.PVC})
    void bothDeploymentsProbeSpringBootHealthGroupsOnThePortTheAppListensOn(String valuesFile) {
        Workloads w = Workloads.of(valuesFile);
        for (Deployment deployment : List.of(w.gateway(), w.worker())) {
            Container container = Workloads.container(deployment);
            String name = deployment.getMetadata().getName();
            assertProbe(name + " liveness", container.getLivenessProbe(), "/actuator/health/liveness");
            assertProbe(name + " readiness", container.getReadinessProbe(), "/actuator/health/readiness");
            assertProbe(name + " startup", container.getStartupProbe(), "/actuator/health/liveness");
            int probedPort = container.getPorts().stream().filter(p -> p.getName().equals("http")).findFirst()
                    .orElseThrow().getContainerPort();
            Map<String, String> config = w.config(deployment);
            assertEquals(Integer.toString(probedPort), config.get("server.port"), name + ": probes and app on different ports");
            assertEquals("true", config.get("management.endpoint.health.probes.enabled"), name);
            assertTrue(config.get("management.endpoints.web.exposure.include").contains("prometheus"), name);
        }
    }

    @Test
    void theWorkerHasAPreStopHookAndAGracePeriodLongEnoughToCheckpoint() {
        assertGracefulWorker(Chart.MINIMAL, 120, 5);
        assertGracefulWorker(Chart.FULL, 180, 5);
        assertGracefulWorker(Chart.PVC, 300, 10);
    }

    private static void assertGracefulWorker(String valuesFile, int grace, int preStop) {
        Workloads w = Workloads.of(valuesFile);
        Deployment worker = w.worker();
        assertEquals(grace, Workloads.pod(worker).getTerminationGracePeriodSeconds(), valuesFile);
        var hook = Workloads.container(worker).getLifecycle().getPreStop();
        assertEquals(preStop, hook.getSleep().getSeconds(), valuesFile);
        Map<String, String> config = w.config(worker);
        assertEquals("graceful", config.get("server.shutdown"), valuesFile);
        // Spring would give up on the checkpointing shutdown phase after its 30 s default.
        int phase = Integer.parseInt(config.get("spring.lifecycle.timeout-per-shutdown-phase").replace("s", ""));
        assertTrue(phase >= 30 && phase + preStop < grace,
                valuesFile + ": shutdown phase of " + phase + " s does not fit " + grace + " s less the " + preStop + " s pause");
        // Rolling updates stop one worker at a time and never before its replacement is up.
        assertEquals(0, worker.getSpec().getStrategy().getRollingUpdate().getMaxUnavailable().getIntVal(), valuesFile);
    }

    @Test
    void gpusAreRequestedOnlyWhenEnabled() {
        for (String cpuOnly : List.of(Chart.MINIMAL, Chart.PVC)) {
            Workloads w = Workloads.of(cpuOnly);
            assertFalse(Chart.render(cpuOnly).text().contains("nvidia.com/gpu"), cpuOnly + " mentions GPUs");
            assertNull(Workloads.pod(w.worker()).getRuntimeClassName(), cpuOnly);
            assertEquals("cpu", w.config(w.worker()).get("lethe.worker.backend"), cpuOnly);
        }
        Workloads full = Workloads.of(Chart.FULL);
        Deployment worker = full.worker();
        assertEquals(new Quantity("1"), Workloads.container(worker).getResources().getLimits().get("nvidia.com/gpu"));
        assertEquals(new Quantity("32Gi"), Workloads.container(worker).getResources().getLimits().get("memory"));
        assertEquals("nvidia", Workloads.pod(worker).getRuntimeClassName());
        assertEquals(Map.of("nvidia.com/gpu.product", "NVIDIA-H200"), Workloads.pod(worker).getNodeSelector());
        List<Toleration> tolerations = Workloads.pod(worker).getTolerations();
        assertEquals(List.of("dedicated", "nvidia.com/gpu"), tolerations.stream().map(Toleration::getKey).toList(),
                "the user's toleration is kept and the GPU taint's added");
        assertEquals("gpu", full.config(worker).get("lethe.worker.backend"));
        assertFalse(full.manifests().component("Deployment", "gateway").toString().contains("nvidia.com/gpu"),
                "the gateway asks for a GPU");

        Deployment two = Workloads.of(Chart.render(Chart.MINIMAL,
                Map.of("worker.gpu.enabled", true, "worker.gpu.count", 2))).worker();
        assertEquals(new Quantity("2"), Workloads.container(two).getResources().getLimits().get("nvidia.com/gpu"));
        assertEquals(new Quantity("8Gi"), Workloads.container(two).getResources().getLimits().get("memory"),
                "the GPU limit replaced the other limits");
    }

    @Test
    void kedaOwnsTheWorkerReplicaCountWhenAutoscalingIsOn() {
        assertNull(Workloads.of(Chart.FULL).worker().getSpec().getReplicas(),
                "a replica count in the Deployment would fight KEDA's on every upgrade");
        assertEquals(2, Workloads.of(Chart.MINIMAL).worker().getSpec().getReplicas());
        assertEquals(3, Workloads.of(Chart.PVC).worker().getSpec().getReplicas());
        assertEquals(3, Workloads.of(Chart.FULL).gateway().getSpec().getReplicas());
    }

    @Test
    void theModelComesFromItsVolumeAndBothServicesNameItAlike() {
        Workloads w = Workloads.of(Chart.PVC);
        Volume model = volume(w.worker(), "model");
        assertEquals("lethe-models", model.getPersistentVolumeClaim().getClaimName());
        VolumeMount mount = mount(w.worker(), "model");
        assertTrue(mount.getReadOnly());
        assertEquals(mount.getMountPath() + "/Qwen3-8B-Q8_0.gguf", w.config(w.worker()).get("lethe.worker.model"));
        assertEquals("qwen3-8b", w.config(w.worker()).get("lethe.worker.model-name"));
        assertEquals("qwen3-8b", w.config(w.gateway()).get("lethe.gateway.models[0]"));
        assertEquals("32", w.config(w.worker()).get("lethe.worker.chunk.max-tokens"), "worker.config passes through");
        assertEquals("h2o", w.config(w.worker()).get("lethe.worker.kv.policy"));
        // Without a claim the image carries the model: no volume for it.
        assertTrue(Workloads.pod(Workloads.of(Chart.MINIMAL).worker()).getVolumes().stream()
                .noneMatch(v -> v.getName().equals("model")));
    }

    @Test
    void checkpointsGoToTheSharedVolumeOrToS3() {
        Workloads pvc = Workloads.of(Chart.PVC);
        Volume volume = volume(pvc.worker(), "checkpoints");
        assertEquals("lethe-checkpoints", volume.getPersistentVolumeClaim().getClaimName());
        Map<String, String> config = pvc.config(pvc.worker());
        assertEquals("directory", config.get("lethe.worker.checkpoint.store"));
        assertEquals(mount(pvc.worker(), "checkpoints").getMountPath(), config.get("lethe.worker.checkpoint.directory"));
        assertEquals("/data/checkpoints", config.get("lethe.worker.checkpoint.directory"));

        Workloads minimal = Workloads.of(Chart.MINIMAL);
        String claim = volume(minimal.worker(), "checkpoints").getPersistentVolumeClaim().getClaimName();
        var created = minimal.manifests().one("PersistentVolumeClaim", claim);
        assertEquals("ReadWriteMany", created.path("spec").path("accessModes").get(0).asString(),
                "every worker must reach every checkpoint");

        Workloads s3 = Workloads.of(Chart.FULL);
        assertTrue(Workloads.pod(s3.worker()).getVolumes().stream().noneMatch(v -> v.getName().equals("checkpoints")));
        Map<String, String> s3Config = s3.config(s3.worker());
        assertEquals("s3", s3Config.get("lethe.worker.checkpoint.store"));
        assertEquals("lethe-checkpoints", s3Config.get("lethe.worker.checkpoint.s3.bucket"));
        assertEquals("https://minio.storage:9000", s3Config.get("lethe.worker.checkpoint.s3.endpoint"));
        assertEquals("true", s3Config.get("lethe.worker.checkpoint.s3.path-style-access"));
        assertEquals("eu-west-1", Workloads.env(s3.worker(), "AWS_REGION").orElseThrow().getValue());
        var keyId = Workloads.env(s3.worker(), "AWS_ACCESS_KEY_ID").orElseThrow().getValueFrom().getSecretKeyRef();
        var secretKey = Workloads.env(s3.worker(), "AWS_SECRET_ACCESS_KEY").orElseThrow().getValueFrom().getSecretKeyRef();
        assertEquals(List.of("lethe-s3", "AWS_ACCESS_KEY_ID", "lethe-s3", "AWS_SECRET_ACCESS_KEY"),
                List.of(keyId.getName(), keyId.getKey(), secretKey.getName(), secretKey.getKey()));
        assertTrue(Workloads.env(s3.gateway(), "AWS_ACCESS_KEY_ID").isEmpty(), "the gateway gets S3 credentials");

        // No keys at all: the pod's own identity (the default AWS credential chain).
        Workloads identity = Workloads.of(Chart.render(Chart.MINIMAL,
                Map.of("checkpoints.store", "s3", "checkpoints.s3.bucket", "b")));
        assertTrue(Workloads.env(identity.worker(), "AWS_ACCESS_KEY_ID").isEmpty());
    }

    @Test
    void podsRunLockedDown() {
        for (String valuesFile : List.of(Chart.MINIMAL, Chart.FULL)) {
            Workloads w = Workloads.of(valuesFile);
            for (Deployment deployment : List.of(w.gateway(), w.worker())) {
                var pod = Workloads.pod(deployment);
                var container = Workloads.container(deployment);
                assertTrue(pod.getSecurityContext().getRunAsNonRoot());
                assertFalse(pod.getAutomountServiceAccountToken());
                assertTrue(container.getSecurityContext().getReadOnlyRootFilesystem());
                assertFalse(container.getSecurityContext().getAllowPrivilegeEscalation());
                assertEquals(List.of("ALL"), container.getSecurityContext().getCapabilities().getDrop());
                assertEquals("/tmp", mount(deployment, "tmp").getMountPath(), "Spring needs a writable /tmp");
            }
        }
    }

    private static void assertProbe(String what, Probe probe, String path) {
        assertTrue(probe != null && probe.getHttpGet() != null, what + " probe missing");
        assertEquals(path, probe.getHttpGet().getPath(), what);
        assertEquals("http", probe.getHttpGet().getPort().getStrVal(), what);
    }

    private static Volume volume(Deployment deployment, String name) {
        return Workloads.pod(deployment).getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }

    private static VolumeMount mount(Deployment deployment, String name) {
        return Workloads.container(deployment).getVolumeMounts().stream().filter(m -> m.getName().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no mount " + name));
    }
}
