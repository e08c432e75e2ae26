package dev.lethe.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import tools.jackson.databind.JsonNode;

/** The examples of EVENTS.md are valid, round-trip, and are exactly what EVENTS.md shows. */
class ExamplesTest {

    static final List<Examples> EXAMPLES = Examples.ALL;

    private final EventCodec codec = new EventCodec();

    @ParameterizedTest
    @FieldSource("EXAMPLES")
    void exampleIsValidAgainstItsSchemaFile(Examples example) {
        assertEquals(List.of(), SchemaValidator.validate(example.type(), example.bytes()));
    }

    @ParameterizedTest
    @FieldSource("EXAMPLES")
    void exampleDecodesToItsRecordAndRoundTrips(Examples example) {
        Event event = codec.decode(example.bytes()).orElseThrow();
        assertInstanceOf(example.type().recordType(), event);

        byte[] encoded = codec.encode(event);
        assertEquals(List.of(), SchemaValidator.validate(example.type(), encoded));
        assertEquals(event, codec.decode(encoded, example.type().recordType()).orElseThrow());

        JsonNode original = SchemaValidator.PLAIN.readTree(example.bytes());
        JsonNode written = SchemaValidator.PLAIN.readTree(encoded);
        assertTrue(JsonTrees.contains(written, original), "encoded form lost or changed a property:\n" + written);
        assertEquals("schema", written.propertyNames().iterator().next(), "schema is the first property");
    }

    @ParameterizedTest
    @FieldSource("EXAMPLES")
    void eventsMdShowsTheExampleVerbatim(Examples example) throws IOException {
        // Surefire runs in the module directory, where EVENTS.md lives.
        String doc = Files.readString(Path.of("EVENTS.md"), StandardCharsets.UTF_8);
        String block = "```json\n" + example.text().strip() + "\n```";
        assertTrue(doc.contains(block), "EVENTS.md does not show examples/" + example.file() + " as a json block");
    }

    @Test
    void oneCodecServesManyThreads() throws Exception {
        List<Event> expected = EXAMPLES.stream().map(e -> codec.decode(e.bytes()).orElseThrow()).toList();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            List<java.util.concurrent.Future<Boolean>> runs = new java.util.ArrayList<>();
            for (int t = 0; t < 4; t++) {
                runs.add(pool.submit(() -> {
                    for (int round = 0; round < 50; round++) {
                        for (int i = 0; i < EXAMPLES.size(); i++) {
                            Event event = codec.decode(EXAMPLES.get(i).bytes()).orElseThrow();
                            if (!event.equals(expected.get(i)) || !codec.decode(codec.encode(event)).orElseThrow().equals(event)) {
                                return false;
                            }
                        }
                    }
                    return true;
                }));
            }
            for (var run : runs) {
                assertTrue(run.get());
            }
        }
    }

    @Test
    void absentOptionalPropertiesTakeTheSchemaDefaults() {
        JobRequest minimal = codec.decode(Examples.named("job-request-minimal.json").bytes(), JobRequest.class)
                .orElseThrow();
        JsonNode schema = SchemaValidator.schemaDocument(EventType.JOB_REQUEST);
        JsonNode sampling = schema.at("/properties/sampling/properties");

        assertEquals(sampling.at("/temperature/default").doubleValue(), minimal.sampling().temperature());
        assertEquals(sampling.at("/topP/default").doubleValue(), minimal.sampling().topP());
        assertEquals(sampling.at("/topK/default").intValue(), minimal.sampling().topK());
        assertEquals(sampling.at("/minP/default").doubleValue(), minimal.sampling().minP());
        assertEquals(List.of(), minimal.sampling().stop());
        assertEquals(null, minimal.sampling().seed());
        assertEquals(schema.at("/properties/priority/default").intValue(), minimal.priority());
        // Java producers get the same defaults as the schema gives everyone else.
        assertEquals(Sampling.withMaxTokens(128), minimal.sampling());
        assertEquals(JobRequest.DEFAULT_PRIORITY, minimal.priority());
        assertEquals(null, minimal.model());
        assertEquals(null, minimal.kvPolicy());
    }

    @Test
    void kvPolicyParametersDefaultToEmpty() {
        String json = new String(Examples.named("job-request.json").bytes(), StandardCharsets.UTF_8)
                .replace("\"parameters\": { \"delta\": 256, \"gamma\": 0.95, \"recent-ratio\": 0.3, \"sparse-ratio\": 400 }", "\"x-unused\": 1");
        JobRequest request = codec.decode(json.getBytes(StandardCharsets.UTF_8), JobRequest.class).orElseThrow();
        assertEquals(new KvPolicy("lethe", Map.of()), request.kvPolicy());
    }

    @Test
    void javaBuiltEventsEncodeToTheDocumentedShape() {
        JobRequest request = JobRequest.ofPrompt("job-0001", "acme", "Once upon a time", Sampling.withMaxTokens(128),
                Instant.parse("2026-03-14T09:30:00Z"));
        JsonNode written = SchemaValidator.PLAIN.readTree(codec.encode(request));
        JsonNode documented = SchemaValidator.PLAIN.readTree(Examples.named("job-request-minimal.json").bytes());
        assertTrue(JsonTrees.contains(written, documented), written.toString());
        assertEquals(List.of("schema", "jobId", "tenant", "prompt", "sampling", "priority", "createdAt"),
                List.copyOf(written.propertyNames()), "nulls are left out, order follows the record");
    }
}
