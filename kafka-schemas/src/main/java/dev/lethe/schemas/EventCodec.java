package dev.lethe.schemas;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import com.networknt.schema.path.PathType;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadConstraints;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.core.json.JsonFactory;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Turns events into JSON bytes and back, checking both ways against the JSON Schemas of this module,
 * which are the contract third parties code against.
 *
 * <p>Decoding never throws: it returns a {@link DecodeResult} that is either the event or every
 * problem found, with the bytes, so a consumer can send them to the DLQ. The checks, in order: size,
 * strict UTF-8, one JSON value no deeper than {@link #MAX_NESTING_DEPTH} without duplicate names,
 * well-formed Unicode text, a known {@code schema} id of the asked type, the JSON Schema, then the
 * rules that a JSON Schema cannot express (in the records' constructors). Absent optional properties
 * that have a {@code default} in the schema get it, so records hold no "absent" primitives.
 *
 * <p>Encoding throws {@link InvalidEventException} for an event that breaks its schema: a producer
 * must never publish what a consumer would reject. Instances are thread-safe; make one and share it.
 */
public final class EventCodec {

    /**
     * Largest encoded event. Kafka's default record limit is 1 MiB (broker {@code message.max.bytes},
     * producer {@code max.request.size}); this leaves room for the key and headers.
     */
    public static final int MAX_EVENT_BYTES = 1_000_000;

    /** Deepest JSON nesting accepted. The schemas need 4; the limit stops stack-eating inputs early. */
    public static final int MAX_NESTING_DEPTH = 16;

    /** Problems listed in one failure, so that a DLQ header stays readable. */
    static final int MAX_PROBLEMS = 20;

    private final JsonMapper mapper;
    private final Map<EventType, Schema> schemas = new EnumMap<>(EventType.class);
    private final Map<EventType, JsonNode> schemaDocuments = new EnumMap<>(EventType.class);

    public EventCodec() {
        JsonFactory factory = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING_DEPTH).build())
                // Two parsers that keep different duplicates would read different events from the same bytes.
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .build();
        mapper = JsonMapper.builder(factory)
                // Properties added to v1 later must not break consumers built now (the schemas allow them too).
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                // Keep the records' component order on the wire: it is the order the docs show.
                .disable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY)
                .changeDefaultPropertyInclusion(incl -> incl.withValueInclusion(JsonInclude.Include.NON_NULL))
                .build();
        SchemaRegistry registry = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
                builder -> builder.schemaRegistryConfig(SchemaRegistryConfig.builder()
                        .formatAssertionsEnabled(true)
                        // "$.sampling.temperature" reads better in a DLQ header than "/sampling/temperature".
                        .pathType(PathType.LEGACY)
                        .build()));
        for (EventType type : EventType.values()) {
            JsonNode document = readSchemaDocument(type);
            Schema schema = registry.getSchema(document);
            schema.initializeValidators();
            schemaDocuments.put(type, document);
            schemas.put(type, schema);
        }
    }

    /** The event as UTF-8 JSON, its {@code schema} field first. */
    public byte[] encode(Event event) {
        EventType type = event.type();
        ObjectNode json = mapper.createObjectNode();
        json.put("schema", type.schemaId());
        json.setAll((ObjectNode) mapper.valueToTree(event));
        requireWellFormedText(json, "$");
        requireValid(type, json);
        byte[] bytes = mapper.writeValueAsBytes(json);
        if (bytes.length > MAX_EVENT_BYTES) {
            throw new InvalidEventException(FailureKind.TOO_LARGE,
                    List.of("encoded event is " + bytes.length + " bytes, more than the limit of " + MAX_EVENT_BYTES));
        }
        return bytes;
    }

    /** Any event type, chosen by the {@code schema} field. */
    public DecodeResult<Event> decode(byte[] bytes) {
        return decode(bytes, Event.class);
    }

    /**
     * An event of the given record type (or any type for {@code Event.class}).
     * Never throws; a failure lists every problem found.
     */
    public <T extends Event> DecodeResult<T> decode(byte[] bytes, Class<T> type) {
        try {
            return new DecodeResult.Valid<>(type.cast(decodeOrThrow(bytes, type)));
        } catch (InvalidEventException e) {
            return new DecodeResult.Invalid<>(e.kind(), e.problems(), bytes);
        } catch (RuntimeException e) {
            // Bad input is reported above; this is a bug in the codec or its libraries. It still must not
            // stop a consumer: the record goes to the DLQ, and the fuzz test fails on any such result.
            return new DecodeResult.Invalid<>(FailureKind.INTERNAL_ERROR, List.of(e.toString()), bytes);
        }
    }

    private Event decodeOrThrow(byte[] bytes, Class<? extends Event> wanted) {
        if (bytes == null || bytes.length == 0) {
            throw invalid(FailureKind.EMPTY, "no bytes");
        }
        if (bytes.length > MAX_EVENT_BYTES) {
            throw invalid(FailureKind.TOO_LARGE,
                    "event is " + bytes.length + " bytes, more than the limit of " + MAX_EVENT_BYTES);
        }
        JsonNode json = parse(strictUtf8(bytes));
        requireWellFormedText(json, "$");
        if (!json.isObject()) {
            throw invalid(FailureKind.SCHEMA_VIOLATION, "an event is a JSON object, not " + describe(json));
        }
        EventType type = typeOf((ObjectNode) json, wanted);
        requireValid(type, json);
        SchemaDefaults.apply(json, schemaDocuments.get(type));
        try {
            return mapper.treeToValue(json, type.recordType());
        } catch (JacksonException e) {
            // Schema-valid JSON fails here only on the rules the records check themselves.
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            String message = cause instanceof JacksonException j ? j.getOriginalMessage() : cause.getMessage();
            throw invalid(FailureKind.INVALID_VALUE, message != null ? message : cause.toString());
        }
    }

    private static String strictUtf8(byte[] bytes) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length); // never more UTF-16 units than UTF-8 bytes
        CoderResult result = decoder.decode(in, out, true);
        if (!result.isError()) {
            result = decoder.flush(out);
        }
        if (result.isError()) {
            throw invalid(FailureKind.NOT_UTF8, "not UTF-8: byte %d (0x%02x) does not start a valid sequence"
                    .formatted(in.position(), bytes[in.position()] & 0xff));
        }
        out.flip();
        // RFC 8259 lets parsers ignore a byte order mark; common JSON parsers do, so we do too.
        if (out.hasRemaining() && out.get(0) == '\uFEFF') {
            out.position(1);
        }
        return out.toString();
    }

    private JsonNode parse(String text) {
        JsonNode json;
        try {
            json = mapper.readTree(text);
        } catch (JacksonException e) {
            TokenStreamLocation at = e.getLocation();
            String where = at == null ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": ";
            // Jackson points at a redacted source ("[Source: REDACTED ...]"), which only adds noise here.
            String message = e.getOriginalMessage().replaceAll(" ?\\(start marker at \\[Source: [^\\]]*\\]\\)", "");
            throw invalid(FailureKind.MALFORMED_JSON, "not JSON: " + where + message);
        }
        if (json == null || json.isMissingNode()) {
            throw invalid(FailureKind.MALFORMED_JSON, "not JSON: no value, only white space");
        }
        return json;
    }

    /**
     * JSON escapes can spell half a surrogate pair ("\ud800"), which no UTF-8 can carry: such text
     * could be decoded but never encoded again, so it is refused both ways.
     */
    private static void requireWellFormedText(JsonNode node, String path) {
        if (node.isString()) {
            requireWellFormed(node.stringValue(), path);
        } else if (node.isObject()) {
            for (Map.Entry<String, JsonNode> property : node.properties()) {
                String childPath = path + "." + property.getKey();
                requireWellFormed(property.getKey(), childPath + " (the name)");
                requireWellFormedText(property.getValue(), childPath);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                requireWellFormedText(node.get(i), path + "[" + i + "]");
            }
        }
    }

    private static void requireWellFormed(String text, String path) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw invalid(FailureKind.NOT_UTF8,
                        "%s: unpaired surrogate \\u%04x at index %d is not Unicode text".formatted(path, (int) c, i));
            }
        }
    }

    private static EventType typeOf(ObjectNode json, Class<? extends Event> wanted) {
        JsonNode id = json.get("schema");
        if (id == null || !id.isString()) {
            throw invalid(FailureKind.UNKNOWN_SCHEMA, "$.schema: " + (id == null ? "missing" : describe(id) + " is not a schema id")
                    + "; expected one of " + EventType.schemaIds());
        }
        EventType type = EventType.bySchemaId(id.stringValue()).orElseThrow(() -> invalid(FailureKind.UNKNOWN_SCHEMA,
                "$.schema: unknown schema id " + quote(id.stringValue()) + "; expected one of " + EventType.schemaIds()));
        if (!wanted.isAssignableFrom(type.recordType())) {
            throw invalid(FailureKind.WRONG_EVENT_TYPE, "$.schema: expected " + EventType.of(wanted).schemaId()
                    + " but got " + type.schemaId());
        }
        return type;
    }

    private void requireValid(EventType type, JsonNode json) {
        List<Error> errors;
        try {
            errors = schemas.get(type).validate(json);
        } catch (JacksonException e) {
            // json-schema-validator 3.0.9 compares a floating-point number with an integer bound through
            // JsonNode.asLong(), which Jackson 3 refuses beyond the long range (1e308 for maxTokens, say).
            // Every bound in our schemas lies inside that range, so such a number is out of range.
            List<String> problems = new ArrayList<>();
            outOfLongRange(json, "$", problems);
            if (problems.isEmpty()) {
                throw e; // not the case above: a bug to find, not bad input to report
            }
            throw new InvalidEventException(FailureKind.SCHEMA_VIOLATION, problems);
        }
        if (errors.isEmpty()) {
            return;
        }
        List<String> problems = new ArrayList<>();
        for (Error error : errors) {
            if (problems.size() == MAX_PROBLEMS) {
                problems.add("... and " + (errors.size() - MAX_PROBLEMS) + " more");
                break;
            }
            problems.add(error.toString());
        }
        throw new InvalidEventException(FailureKind.SCHEMA_VIOLATION, problems);
    }

    private static void outOfLongRange(JsonNode node, String path, List<String> problems) {
        if (node.isFloatingPointNumber() && !(Math.abs(node.doubleValue()) < 0x1p63)) {
            problems.add(path + ": " + node + " is out of range");
        } else if (node.isObject()) {
            node.properties().forEach(p -> outOfLongRange(p.getValue(), path + "." + p.getKey(), problems));
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                outOfLongRange(node.get(i), path + "[" + i + "]", problems);
            }
        }
    }

    private JsonNode readSchemaDocument(EventType type) {
        try (InputStream in = EventCodec.class.getClassLoader().getResourceAsStream(type.schemaResource())) {
            if (in == null) {
                throw new IllegalStateException("schema resource " + type.schemaResource() + " is missing from the class path");
            }
            return mapper.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String describe(JsonNode node) {
        return switch (node.getNodeType()) {
            case ARRAY -> "an array";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> node.getNodeType().toString().toLowerCase();
        };
    }

    private static String quote(String s) {
        return '"' + (s.length() > 64 ? s.substring(0, 64) + "..." : s) + '"';
    }

    private static InvalidEventException invalid(FailureKind kind, String problem) {
        return new InvalidEventException(kind, List.of(problem));
    }
}
