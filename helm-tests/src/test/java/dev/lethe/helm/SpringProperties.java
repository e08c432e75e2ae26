package dev.lethe.helm;

import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * Spring Boot's view of a YAML configuration file: every leaf under its flattened name, with list items
 * as {@code name[i]} (so {@code a: {b.c: 1}} and {@code a.b.c: 1} are the same property).
 */
final class SpringProperties {

    private SpringProperties() {
    }

    static Map<String, String> flatten(String yaml) {
        Map<String, String> properties = new LinkedHashMap<>();
        JsonNode root = Manifests.YAML.readTree(yaml);
        if (root != null && !root.isNull() && !root.isMissingNode()) flatten("", root, properties);
        return properties;
    }

    private static void flatten(String prefix, JsonNode node, Map<String, String> into) {
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> entry : node.properties()) {
                flatten(prefix.isEmpty() ? entry.getKey() : prefix + "." + entry.getKey(), entry.getValue(), into);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) flatten(prefix + "[" + i + "]", node.get(i), into);
        } else {
            into.put(prefix, node.isNull() ? null : node.asString());
        }
    }
}
