package dev.lethe.helm;

import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Validates rendered custom resources (KEDA, Strimzi) against their CRDs' schemas, vendored under
 * {@code src/test/resources/crd-schemas} (see SOURCE.md there).
 */
final class CrdSchemas {

    private static final Map<String, String> FILES = Map.of(
            "keda.sh/v1alpha1/ScaledObject", "keda.sh/scaledobject_v1alpha1.json",
            "keda.sh/v1alpha1/TriggerAuthentication", "keda.sh/triggerauthentication_v1alpha1.json",
            "kafka.strimzi.io/v1beta2/KafkaTopic", "kafka.strimzi.io/kafkatopic_v1beta2.json",
            "kafka.strimzi.io/v1/KafkaTopic", "kafka.strimzi.io/kafkatopic_v1.json");

    private static final JsonMapper JSON = JsonMapper.builder().build();
    // CRD schemas are OpenAPI v3 schemas, whose keywords are those of draft 4 to 7 that all readers share.
    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_7);
    private static final Map<String, Schema> SCHEMAS = new ConcurrentHashMap<>();

    private CrdSchemas() {
    }

    static boolean knows(ObjectNode document) {
        return FILES.containsKey(key(document));
    }

    /** Problems of one document, each naming the document and the JSON path. */
    static List<String> check(ObjectNode document) {
        String key = key(document);
        String file = FILES.get(key);
        if (file == null) return List.of("no schema for " + key);
        Schema schema = SCHEMAS.computeIfAbsent(file, CrdSchemas::load);
        List<Error> errors = schema.validate(JSON.writeValueAsString(document), InputFormat.JSON);
        String name = key + " " + document.path("metadata").path("name").asString("(no name)");
        return errors.stream().map(e -> name + ": " + e).toList();
    }

    private static Schema load(String file) {
        try (InputStream in = CrdSchemas.class.getResourceAsStream("/crd-schemas/" + file)) {
            if (in == null) throw new IllegalStateException("missing schema resource crd-schemas/" + file);
            return REGISTRY.getSchema(in, InputFormat.JSON);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String key(ObjectNode document) {
        return document.path("apiVersion").asString("") + "/" + document.path("kind").asString("");
    }
}
