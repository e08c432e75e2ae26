package dev.lethe.helm;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.HTTPIngressPath;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.IngressRule;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the API server and the kubelet check beyond the shape of each object (required fields, name
 * syntax, label syntax, quantities), and what holds the rendered objects together: selectors that
 * select, named ports that exist, mounts of declared volumes, and references to the chart's own
 * ConfigMap and Secret keys that exist. Secrets the chart does not render (the user's) can only be
 * named, not checked.
 */
final class ManifestRules {

    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final Pattern LABEL_NAME = Pattern.compile("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
    private static final Pattern LABEL_VALUE = Pattern.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");
    private static final Pattern ENV_NAME = Pattern.compile("[-._a-zA-Z][-._a-zA-Z0-9]*");
    private static final Pattern PORT_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?");

    private final List<HasMetadata> objects;
    private final List<String> problems = new ArrayList<>();

    private ManifestRules(List<HasMetadata> objects) {
        this.objects = objects;
    }

    /** Problems of the built-in objects of one render (each already bound by {@link KubernetesTypes}). */
    static List<String> check(List<HasMetadata> objects) {
        ManifestRules rules = new ManifestRules(objects);
        rules.run();
        return rules.problems;
    }

    private void run() {
        Set<String> seen = new HashSet<>();
        for (HasMetadata object : objects) {
            String id = id(object);
            if (!seen.add(object.getKind() + "/" + object.getMetadata().getName())) problems.add(id + ": rendered twice");
            metadata(object);
            switch (object) {
                case Deployment d -> deployment(d);
                case Service s -> service(s);
                case Ingress i -> ingress(i);
                case PodDisruptionBudget p -> selects(id, p.getSpec().getSelector().getMatchLabels());
                case PersistentVolumeClaim c -> quantity(id + " storage", c.getSpec().getResources().getRequests().get("storage"));
                default -> { }
            }
        }
    }

    private void metadata(HasMetadata object) {
        String id = id(object);
        String name = object.getMetadata().getName();
        if (name == null) {
            problems.add(id + ": metadata.name is required");
            return;
        }
        // Services (and the pods' host names that Deployments make) must be DNS labels; the rest subdomains.
        boolean label = object instanceof Service || object instanceof Deployment;
        int max = label ? 63 : 253;
        if (name.length() > max || !(label ? DNS_LABEL : DNS_SUBDOMAIN).matcher(name).matches()) {
            problems.add(id + ": metadata.name is not a valid " + (label ? "DNS label" : "DNS subdomain"));
        }
        labels(id + " metadata.labels", object.getMetadata().getLabels());
    }

    private void labels(String where, Map<String, String> labels) {
        if (labels == null) return;
        labels.forEach((key, value) -> {
            String name = key.contains("/") ? key.substring(key.indexOf('/') + 1) : key;
            String prefix = key.contains("/") ? key.substring(0, key.indexOf('/')) : null;
            if (name.length() > 63 || !LABEL_NAME.matcher(name).matches()
                    || (prefix != null && (prefix.length() > 253 || !DNS_SUBDOMAIN.matcher(prefix).matches()))) {
                problems.add(where + ": invalid label key " + key);
            }
            if (value == null || value.length() > 63 || !LABEL_VALUE.matcher(value).matches()) {
                problems.add(where + ": invalid value of label " + key + ": " + value);
            }
        });
    }

    private void deployment(Deployment deployment) {
        String id = id(deployment);
        var spec = deployment.getSpec();
        if (spec.getSelector() == null || spec.getSelector().getMatchLabels() == null || spec.getSelector().getMatchLabels().isEmpty()) {
            problems.add(id + ": spec.selector.matchLabels is required");
            return;
        }
        Map<String, String> podLabels = spec.getTemplate().getMetadata().getLabels();
        labels(id + " pod labels", podLabels);
        if (podLabels == null || !podLabels.entrySet().containsAll(spec.getSelector().getMatchLabels().entrySet())) {
            problems.add(id + ": spec.selector does not select the pod template's labels");
        }
        if (spec.getReplicas() != null && spec.getReplicas() < 0) problems.add(id + ": negative replicas");
        PodSpec pod = spec.getTemplate().getSpec();
        if (pod.getContainers() == null || pod.getContainers().isEmpty()) {
            problems.add(id + ": no containers");
            return;
        }
        Set<String> volumes = new HashSet<>();
        for (Volume volume : pod.getVolumes()) {
            if (!volumes.add(volume.getName())) problems.add(id + ": volume " + volume.getName() + " declared twice");
            if (volume.getConfigMap() != null) mustExist(id, "ConfigMap", volume.getConfigMap().getName());
            if (volume.getSecret() != null) {
                ownSecretKeys(id, volume.getSecret().getSecretName(),
                        volume.getSecret().getItems() == null ? List.of()
                                : volume.getSecret().getItems().stream().map(i -> i.getKey()).toList());
            }
            if (volume.getPersistentVolumeClaim() != null) {
                String claim = volume.getPersistentVolumeClaim().getClaimName();
                if (claim == null || claim.isEmpty()) problems.add(id + ": volume " + volume.getName() + " names no claim");
            }
        }
        Set<String> containerNames = new HashSet<>();
        for (Container container : pod.getContainers()) {
            String where = id + " container " + container.getName();
            if (container.getName() == null || !DNS_LABEL.matcher(container.getName()).matches()) {
                problems.add(id + ": container name missing or invalid: " + container.getName());
            }
            if (!containerNames.add(container.getName())) problems.add(where + ": name used twice");
            if (container.getImage() == null || container.getImage().isBlank()) problems.add(where + ": no image");
            Set<String> portNames = new HashSet<>();
            for (ContainerPort port : container.getPorts()) {
                if (port.getContainerPort() == null || port.getContainerPort() < 1 || port.getContainerPort() > 65535) {
                    problems.add(where + ": port out of range: " + port.getContainerPort());
                }
                if (port.getName() != null && (port.getName().length() > 15 || !PORT_NAME.matcher(port.getName()).matches()
                        || !portNames.add(port.getName()))) {
                    problems.add(where + ": invalid or repeated port name " + port.getName());
                }
            }
            for (Probe probe : new Probe[] {container.getStartupProbe(), container.getLivenessProbe(), container.getReadinessProbe()}) {
                if (probe != null && probe.getHttpGet() != null) namedPort(where + " probe", probe.getHttpGet(), portNames);
            }
            Set<String> envNames = new HashSet<>();
            for (EnvVar env : container.getEnv()) {
                if (env.getName() == null || !ENV_NAME.matcher(env.getName()).matches()) problems.add(where + ": invalid env name " + env.getName());
                if (!envNames.add(env.getName())) problems.add(where + ": env " + env.getName() + " set twice");
                if (env.getValueFrom() != null && env.getValueFrom().getSecretKeyRef() != null) {
                    SecretKeySelector ref = env.getValueFrom().getSecretKeyRef();
                    if (ref.getName() == null || ref.getKey() == null) problems.add(where + ": env " + env.getName() + " secretKeyRef needs name and key");
                    else ownSecretKeys(where + " env " + env.getName(), ref.getName(), List.of(ref.getKey()));
                }
            }
            Set<String> mountPaths = new HashSet<>();
            for (var mount : container.getVolumeMounts()) {
                if (!volumes.contains(mount.getName())) problems.add(where + ": mounts undeclared volume " + mount.getName());
                if (!mountPaths.add(mount.getMountPath())) problems.add(where + ": two mounts at " + mount.getMountPath());
            }
            if (container.getResources() != null) {
                resources(where, container.getResources().getRequests());
                resources(where, container.getResources().getLimits());
            }
        }
    }

    private void resources(String where, Map<String, Quantity> quantities) {
        if (quantities != null) quantities.forEach((name, q) -> quantity(where + " " + name, q));
    }

    private void quantity(String where, Quantity quantity) {
        try {
            Objects.requireNonNull(quantity, "missing");
            Quantity.getAmountInBytes(quantity);
        } catch (RuntimeException e) {
            problems.add(where + ": not a quantity: " + quantity + " (" + e.getMessage() + ")");
        }
    }

    private void namedPort(String where, HTTPGetAction get, Set<String> portNames) {
        IntOrString port = get.getPort();
        if (port == null) problems.add(where + ": httpGet without port");
        else if (port.getStrVal() != null && !portNames.contains(port.getStrVal())) {
            problems.add(where + ": httpGet names port " + port.getStrVal() + ", which the container does not declare");
        }
    }

    private void service(Service service) {
        String id = id(service);
        Deployment target = selects(id, service.getSpec().getSelector());
        if (target == null) return;
        Set<String> portNames = new HashSet<>();
        for (Container c : target.getSpec().getTemplate().getSpec().getContainers()) {
            c.getPorts().forEach(p -> portNames.add(p.getName()));
        }
        for (ServicePort port : service.getSpec().getPorts()) {
            IntOrString targetPort = port.getTargetPort();
            if (targetPort != null && targetPort.getStrVal() != null && !portNames.contains(targetPort.getStrVal())) {
                problems.add(id + ": targetPort " + targetPort.getStrVal() + " is not a port of " + id(target));
            }
        }
    }

    private void ingress(Ingress ingress) {
        String id = id(ingress);
        for (IngressRule rule : ingress.getSpec().getRules()) {
            for (HTTPIngressPath path : rule.getHttp().getPaths()) {
                if (path.getPathType() == null) problems.add(id + ": path " + path.getPath() + " has no pathType");
                var backend = path.getBackend().getService();
                Service service = find(Service.class, backend.getName());
                if (service == null) {
                    problems.add(id + ": backend Service " + backend.getName() + " is not rendered");
                } else if (backend.getPort().getName() != null
                        && service.getSpec().getPorts().stream().noneMatch(p -> backend.getPort().getName().equals(p.getName()))) {
                    problems.add(id + ": Service " + backend.getName() + " has no port named " + backend.getPort().getName());
                }
            }
        }
    }

    /** The one Deployment whose pods the selector selects; a problem if none or several. */
    private Deployment selects(String id, Map<String, String> selector) {
        if (selector == null || selector.isEmpty()) {
            problems.add(id + ": empty selector (it would select every pod)");
            return null;
        }
        List<Deployment> selected = objects.stream().filter(o -> o instanceof Deployment).map(o -> (Deployment) o)
                .filter(d -> d.getSpec().getTemplate().getMetadata().getLabels().entrySet().containsAll(selector.entrySet()))
                .toList();
        if (selected.size() != 1) {
            problems.add(id + ": selector " + selector + " selects " + selected.size() + " Deployments, not one");
            return null;
        }
        return selected.getFirst();
    }

    private void mustExist(String id, String kind, String name) {
        if (objects.stream().noneMatch(o -> o.getKind().equals(kind) && o.getMetadata().getName().equals(name))) {
            problems.add(id + ": refers to " + kind + " " + name + ", which the chart does not render");
        }
    }

    /** Keys of a Secret the chart renders must exist in it; a Secret it does not render is the user's. */
    private void ownSecretKeys(String where, String name, List<String> keys) {
        Secret secret = find(Secret.class, name);
        if (secret == null) return;
        for (String key : keys) {
            if (EffectiveConfig.secretValue(secret, key) == null) problems.add(where + ": Secret " + name + " has no key " + key);
        }
    }

    private <T extends HasMetadata> T find(Class<T> type, String name) {
        return objects.stream().filter(type::isInstance).map(type::cast)
                .filter(o -> o.getMetadata().getName().equals(name)).findFirst().orElse(null);
    }

    private static String id(HasMetadata object) {
        return object.getKind() + " " + object.getMetadata().getName();
    }
}
