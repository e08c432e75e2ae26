package dev.lethe.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import tools.jackson.databind.JsonNode;

class SchemaFilesTest {

    @ParameterizedTest
    @EnumSource(EventType.class)
    void schemaFileIsAValidDraft202012Schema(EventType type) {
        JsonNode schema = SchemaValidator.schemaDocument(type);
        assertEquals(List.of(), SchemaValidator.validateAgainstMetaSchema(schema));
        assertEquals("https://json-schema.org/draft/2020-12/schema", schema.get("$schema").stringValue());
        assertEquals(type.schemaId(), schema.get("title").stringValue());
    }

    @Test
    void metaSchemaCheckRejectsABrokenSchema() {
        JsonNode broken = SchemaValidator.PLAIN.readTree("""
                {"$schema": "https://json-schema.org/draft/2020-12/schema",
                 "type": "object", "properties": {"x": {"type": "integr", "minimum": "zero"}}}""");
        assertFalse(SchemaValidator.validateAgainstMetaSchema(broken).isEmpty());
    }

    @ParameterizedTest
    @EnumSource(EventType.class)
    void schemaFieldIsARequiredConstOfTheSchemaId(EventType type) {
        JsonNode schema = SchemaValidator.schemaDocument(type);
        assertEquals(type.schemaId(), schema.at("/properties/schema/const").stringValue());
        assertTrue(required(schema).contains("schema"));
    }

    /** Third parties read the schema, Java reads the record: they must name the same properties. */
    @ParameterizedTest
    @EnumSource(EventType.class)
    void recordsMirrorTheirSchema(EventType type) {
        JsonNode schema = SchemaValidator.schemaDocument(type);
        assertMirrors(type.recordType(), schema, schema, type.schemaId(), Set.of("schema"));
    }

    /** The files repeat a few definitions so that each stands alone; the copies must not drift apart. */
    @Test
    void sharedDefinitionsAreIdenticalInEveryFile() {
        Map<String, JsonNode> firstSeen = new HashMap<>();
        Map<String, EventType> seenIn = new HashMap<>();
        for (EventType type : EventType.values()) {
            for (Map.Entry<String, JsonNode> def : SchemaValidator.schemaDocument(type).get("$defs").properties()) {
                JsonNode earlier = firstSeen.putIfAbsent(def.getKey(), def.getValue());
                seenIn.putIfAbsent(def.getKey(), type);
                if (earlier != null) {
                    assertEquals(earlier, def.getValue(), "$defs/" + def.getKey() + " differs between "
                            + seenIn.get(def.getKey()).schemaId() + " and " + type.schemaId());
                }
            }
        }
        assertTrue(firstSeen.keySet().containsAll(Set.of("jobId", "timestamp", "kvPolicy", "workerId")));
    }

    @Test
    void everySchemaFileBelongsToAnEventType() throws Exception {
        var dir = java.nio.file.Path.of(EventCodec.class.getClassLoader().getResource("schemas").toURI());
        try (var files = java.nio.file.Files.list(dir)) {
            Set<String> present = new TreeSet<>(files.map(p -> "schemas/" + p.getFileName()).toList());
            Set<String> expected = new TreeSet<>(Arrays.stream(EventType.values()).map(EventType::schemaResource).toList());
            assertEquals(expected, present);
        }
    }

    private static void assertMirrors(Class<?> record, JsonNode schema, JsonNode document, String where,
                                      Set<String> wireOnly) {
        schema = resolve(schema, document);
        Set<String> properties = new TreeSet<>(schema.get("properties").propertyNames());
        properties.removeAll(wireOnly);
        Set<String> components = new TreeSet<>();
        for (RecordComponent c : record.getRecordComponents()) {
            components.add(c.getName());
        }
        assertEquals(properties, components, "properties of " + where + " vs components of " + record.getSimpleName());
        assertTrue(properties.containsAll(required(schema).stream().filter(r -> !wireOnly.contains(r)).toList()),
                where + " requires a property it does not declare");
        for (RecordComponent c : record.getRecordComponents()) {
            JsonNode propertySchema = resolve(schema.get("properties").get(c.getName()), document);
            Class<?> nested = recordTypeOf(c.getGenericType());
            if (nested != null) {
                JsonNode nestedSchema = c.getType() == List.class ? propertySchema.get("items") : propertySchema;
                assertMirrors(nested, nestedSchema, document, where + "." + c.getName(), Set.of());
            }
        }
    }

    /** The record type of a component, or of its list elements; null for anything else. */
    private static Class<?> recordTypeOf(Type type) {
        if (type instanceof Class<?> c && c.isRecord()) {
            return c;
        }
        if (type instanceof ParameterizedType p && p.getRawType() == List.class
                && p.getActualTypeArguments()[0] instanceof Class<?> element && element.isRecord()) {
            return element;
        }
        return null;
    }

    private static JsonNode resolve(JsonNode schema, JsonNode document) {
        JsonNode ref = schema.get("$ref");
        return ref == null ? schema : resolve(document.at(ref.stringValue().substring(1)), document);
    }

    private static Set<String> required(JsonNode schema) {
        Set<String> names = new TreeSet<>();
        schema.path("required").forEach(n -> names.add(n.stringValue()));
        return names;
    }
}
