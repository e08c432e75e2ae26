package dev.lethe.helm;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.Map;
import java.util.Optional;

/** Typed views of the two Deployments of one render. */
record Workloads(Manifests manifests, Deployment gateway, Deployment worker) {

    static Workloads of(Manifests manifests) {
        return new Workloads(manifests,
                KubernetesTypes.bind(manifests.component("Deployment", "gateway"), Deployment.class),
                KubernetesTypes.bind(manifests.component("Deployment", "worker"), Deployment.class));
    }

    static Workloads of(String valuesFile) {
        return of(Chart.render(valuesFile));
    }

    static PodSpec pod(Deployment deployment) {
        return deployment.getSpec().getTemplate().getSpec();
    }

    static Container container(Deployment deployment) {
        return pod(deployment).getContainers().getFirst();
    }

    static Optional<EnvVar> env(Deployment deployment, String name) {
        return container(deployment).getEnv().stream().filter(e -> e.getName().equals(name)).findFirst();
    }

    Map<String, String> config(Deployment deployment) {
        return EffectiveConfig.of(manifests, deployment);
    }

    Secret secret() {
        return KubernetesTypes.bind(manifests.one("Secret", Chart.RELEASE + "-lethe-secret"), Secret.class);
    }
}
