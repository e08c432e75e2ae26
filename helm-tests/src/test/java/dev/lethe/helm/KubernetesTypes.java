package dev.lethe.helm;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.cfg.CoercionAction;
import tools.jackson.databind.cfg.CoercionInputShape;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.databind.type.LogicalType;

/**
 * Binds rendered documents of built-in kinds to fabric8's Kubernetes model, which is generated from the
 * Kubernetes OpenAPI definitions, the way the API server would decode them: a field the API does not
 * have, or a value of the wrong JSON type (a quoted number, an unquoted number where a string belongs),
 * is a problem. fabric8 keeps unknown fields in each object's {@code additionalProperties} instead of
 * refusing them, so the binding is followed by a walk over the whole object tree that reports them.
 */
final class KubernetesTypes {

    /** The built-in kinds the chart renders, by apiVersion and kind. */
    private static final Map<String, Class<? extends HasMetadata>> KINDS = Map.of(
            "apps/v1/Deployment", Deployment.class,
            "v1/Service", Service.class,
            "v1/ConfigMap", ConfigMap.class,
            "v1/Secret", Secret.class,
            "v1/ServiceAccount", ServiceAccount.class,
            "v1/PersistentVolumeClaim", PersistentVolumeClaim.class,
            "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class,
            "networking.k8s.io/v1/Ingress", Ingress.class);

    private static final JsonMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            // The API server refuses 8080 where a string belongs (labels, annotations, env values).
            .withCoercionConfig(LogicalType.Textual, c -> c
                    .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .build();

    private KubernetesTypes() {
    }

    static boolean isBuiltIn(ObjectNode document) {
        return KINDS.containsKey(key(document));
    }

    static <T extends HasMetadata> T bind(ObjectNode document, Class<T> type) {
        return STRICT.treeToValue(document, type);
    }

    /** The typed object, or a problem saying why the API server would refuse the document. */
    static Result check(ObjectNode document) {
        String key = key(document);
        Class<? extends HasMetadata> type = KINDS.get(key);
        if (type == null) return new Result(null, List.of("not a built-in kind this check knows: " + key));
        HasMetadata bound;
        try {
            bound = STRICT.treeToValue(document, type);
        } catch (JacksonException e) {
            return new Result(null, List.of(name(document) + ": " + e.getOriginalMessage() + " at " + e.getPathReference()));
        }
        List<String> problems = new ArrayList<>();
        unknownFields(bound, name(document), problems, java.util.Collections.newSetFromMap(new IdentityHashMap<>()));
        return new Result(bound, problems);
    }

    record Result(HasMetadata object, List<String> problems) {
        Optional<HasMetadata> valid() {
            return problems.isEmpty() ? Optional.of(object) : Optional.empty();
        }
    }

    private static String key(ObjectNode document) {
        return document.path("apiVersion").asString("") + "/" + document.path("kind").asString("");
    }

    private static String name(ObjectNode document) {
        return key(document) + " " + document.path("metadata").path("name").asString("(no name)");
    }

    /** Reports every non-empty additionalProperties map in the tree of fabric8 objects under {@code node}. */
    private static void unknownFields(Object node, String path, List<String> problems, Set<Object> seen) {
        if (node == null || !seen.add(node)) return;
        switch (node) {
            case Collection<?> items -> {
                int i = 0;
                for (Object item : items) unknownFields(item, path + "[" + i++ + "]", problems, seen);
            }
            case Map<?, ?> map -> map.forEach((k, v) -> unknownFields(v, path + "[" + k + "]", problems, seen));
            default -> {
                if (!node.getClass().getName().startsWith("io.fabric8.")) return;
                for (Class<?> c = node.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
                    for (Field field : c.getDeclaredFields()) {
                        if (Modifier.isStatic(field.getModifiers())) continue;
                        field.setAccessible(true);
                        Object value;
                        try {
                            value = field.get(node);
                        } catch (IllegalAccessException e) {
                            throw new IllegalStateException(e);
                        }
                        if (field.getName().equals("additionalProperties")) {
                            if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                                problems.add(path + ": fields the Kubernetes API does not have: " + extra.keySet());
                            }
                        } else {
                            unknownFields(value, path + "." + field.getName(), problems, seen);
                        }
                    }
                }
            }
        }
    }
}
