package dev.lethe.schemas;

import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Validation straight from the schema files, as a third party would do it, without the codec:
 * tests use it to check what the codec accepts and produces.
 */
final class SchemaValidator {

    static final JsonMapper PLAIN = JsonMapper.builder().build();

    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
            b -> b.schemaRegistryConfig(SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));

    private SchemaValidator() {
    }

    static JsonNode schemaDocument(EventType type) {
        try (InputStream in = SchemaValidator.class.getClassLoader().getResourceAsStream(type.schemaResource())) {
            return PLAIN.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Error> validate(EventType type, JsonNode json) {
        return REGISTRY.getSchema(schemaDocument(type)).validate(json);
    }

    static List<Error> validate(EventType type, byte[] json) {
        return validate(type, PLAIN.readTree(json));
    }

    /** Errors of a schema document against the draft 2020-12 meta-schema (bundled with the validator). */
    static List<Error> validateAgainstMetaSchema(JsonNode schemaDocument) {
        Schema meta = REGISTRY.getSchema(SchemaLocation.of(SpecificationVersion.DRAFT_2020_12.getDialectId()));
        return meta.validate(schemaDocument);
    }
}
