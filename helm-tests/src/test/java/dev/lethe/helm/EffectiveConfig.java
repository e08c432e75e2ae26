package dev.lethe.helm;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Spring properties a container will see from the chart: the files named in its
 * SPRING_CONFIG_ADDITIONAL_LOCATION, followed through its volume mounts to the rendered ConfigMap or
 * Secret keys they come from, merged in order (later files win, as in Spring Boot). A file that no
 * mount provides is an error: the service would not start.
 */
final class EffectiveConfig {

    private EffectiveConfig() {
    }

    static Map<String, String> of(Manifests manifests, Deployment deployment) {
        Container container = deployment.getSpec().getTemplate().getSpec().getContainers().getFirst();
        String locations = env(container, "SPRING_CONFIG_ADDITIONAL_LOCATION");
        Map<String, String> properties = new LinkedHashMap<>();
        for (String location : locations.split(",")) {
            if (!location.startsWith("file:")) throw new AssertionError("not a file location: " + location);
            properties.putAll(SpringProperties.flatten(fileContent(manifests, deployment, container, location.substring(5))));
        }
        return properties;
    }

    static String env(Container container, String name) {
        return container.getEnv().stream().filter(e -> e.getName().equals(name)).map(EnvVar::getValue)
                .findFirst().orElseThrow(() -> new AssertionError(container.getName() + " has no env " + name));
    }

    /** The content of a file at {@code path} inside the container, from the rendered volume that holds it. */
    static String fileContent(Manifests manifests, Deployment deployment, Container container, String path) {
        int slash = path.lastIndexOf('/');
        String dir = path.substring(0, slash);
        String file = path.substring(slash + 1);
        VolumeMount mount = container.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(dir))
                .findFirst().orElseThrow(() -> new AssertionError("no volume is mounted at " + dir + " for " + path));
        Volume volume = deployment.getSpec().getTemplate().getSpec().getVolumes().stream()
                .filter(v -> v.getName().equals(mount.getName())).findFirst()
                .orElseThrow(() -> new AssertionError("mount " + mount.getName() + " names no volume"));
        if (volume.getConfigMap() != null) {
            String key = keyFor(file, volume.getConfigMap().getItems());
            ConfigMap map = KubernetesTypes.bind(manifests.one("ConfigMap", volume.getConfigMap().getName()), ConfigMap.class);
            String content = map.getData().get(key);
            if (content == null) throw new AssertionError("ConfigMap " + map.getMetadata().getName() + " has no key " + key);
            return content;
        }
        if (volume.getSecret() != null) {
            String key = keyFor(file, volume.getSecret().getItems());
            Secret secret = KubernetesTypes.bind(manifests.one("Secret", volume.getSecret().getSecretName()), Secret.class);
            String content = secretValue(secret, key);
            if (content == null) throw new AssertionError("Secret " + secret.getMetadata().getName() + " has no key " + key);
            return content;
        }
        throw new AssertionError("volume " + volume.getName() + " holding " + path + " is neither a ConfigMap nor a Secret");
    }

    static String secretValue(Secret secret, String key) {
        if (secret.getStringData() != null && secret.getStringData().containsKey(key)) return secret.getStringData().get(key);
        if (secret.getData() != null && secret.getData().containsKey(key)) {
            return new String(Base64.getDecoder().decode(secret.getData().get(key)), StandardCharsets.UTF_8);
        }
        return null;
    }

    private static String keyFor(String file, java.util.List<KeyToPath> items) {
        if (items == null || items.isEmpty()) return file;
        return items.stream().filter(i -> i.getPath().equals(file)).map(KeyToPath::getKey).findFirst()
                .orElseThrow(() -> new AssertionError("the volume's items do not project a file named " + file));
    }
}
