package dev.lethe.schemas;

import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Fills absent properties with the {@code default} their JSON Schema declares, so that the schema
 * file is the only place a default is written down and every language reads the same value.
 * Runs on JSON that already passed its schema, so shapes match.
 */
final class SchemaDefaults {

    private SchemaDefaults() {
    }

    static void apply(JsonNode instance, JsonNode schemaDocument) {
        apply(instance, schemaDocument, schemaDocument);
    }

    private static void apply(JsonNode instance, JsonNode schema, JsonNode document) {
        schema = resolve(schema, document);
        JsonNode properties = schema.get("properties");
        if (instance instanceof ObjectNode object && properties != null) {
            for (Map.Entry<String, JsonNode> property : properties.properties()) {
                JsonNode propertySchema = resolve(property.getValue(), document);
                JsonNode value = object.get(property.getKey());
                if (value == null && propertySchema.has("default")) {
                    object.set(property.getKey(), propertySchema.get("default").deepCopy());
                } else if (value != null) {
                    apply(value, propertySchema, document);
                }
            }
        }
        JsonNode items = schema.get("items");
        if (instance.isArray() && items != null) {
            for (JsonNode element : instance) {
                apply(element, items, document);
            }
        }
    }

    /** Follows a local {@code $ref} such as {@code #/$defs/kvPolicy}; the schemas use no others. */
    private static JsonNode resolve(JsonNode schema, JsonNode document) {
        JsonNode ref = schema.get("$ref");
        if (ref == null) {
            return schema;
        }
        String pointer = ref.stringValue();
        if (!pointer.startsWith("#")) {
            throw new IllegalStateException("only local $refs are supported, not " + pointer);
        }
        return resolve(document.at(pointer.substring(1)), document);
    }
}
