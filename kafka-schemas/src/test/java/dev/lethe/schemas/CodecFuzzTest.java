package dev.lethe.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.networknt.schema.Error;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import tools.jackson.core.JacksonException;

/**
 * Thousands of random mutations of the example events. Whatever the bytes, the codec answers with a
 * result, never an exception; what it accepts is schema-valid, re-encodes and decodes to the same
 * event; and where the schema files and the codec disagree, it is only for the documented extra rules.
 * Reproducible: the seed and count can be changed with -Dlethe.fuzz.seed and -Dlethe.fuzz.mutations.
 */
class CodecFuzzTest {

    private static final long SEED = Long.getLong("lethe.fuzz.seed", 20260314L);
    private static final int MUTATIONS = Integer.getInteger("lethe.fuzz.mutations", 3000);

    private final EventCodec codec = new EventCodec();

    @Test
    void codecSurvivesRandomMutationsOfValidEvents() {
        Random random = new Random(SEED);
        Mutator mutator = new Mutator(random, Examples.ALL);
        Map<FailureKind, Integer> failures = new EnumMap<>(FailureKind.class);
        int accepted = 0;
        for (int i = 0; i < MUTATIONS; i++) {
            Examples example = Examples.ALL.get(random.nextInt(Examples.ALL.size()));
            Mutator.Mutant mutant = mutator.mutate(example);
            DecodeResult<Event> result;
            try {
                result = codec.decode(mutant.bytes());
                check(example.type(), mutant, result);
            } catch (Throwable t) {
                throw new AssertionError("mutation " + i + " (seed " + SEED + "): " + t + "\n" + mutant, t);
            }
            if (result instanceof DecodeResult.Invalid<Event> invalid) {
                failures.merge(invalid.kind(), 1, Integer::sum);
            } else {
                accepted++;
            }
        }
        System.out.printf("fuzz: %d mutations (seed %d): %d accepted, rejected %s%n", MUTATIONS, SEED, accepted, failures);
        // A fuzzer that only ever produced garbage, or never garbage, would prove little.
        assertTrue(accepted >= MUTATIONS / 20, "too few mutants were valid: " + accepted);
        assertTrue(failures.keySet().containsAll(List.of(FailureKind.MALFORMED_JSON, FailureKind.NOT_UTF8,
                FailureKind.SCHEMA_VIOLATION, FailureKind.UNKNOWN_SCHEMA)), "stages not reached: " + failures);
    }

    private void check(EventType expected, Mutator.Mutant mutant, DecodeResult<Event> result) {
        List<Error> schemaErrors = independentValidation(mutant.bytes());
        switch (result) {
            case DecodeResult.Valid<Event>(Event event) -> {
                assertEquals(List.of(), schemaErrors, "accepted, but the schema file rejects it");
                byte[] encoded = codec.encode(event);
                assertEquals(List.of(), SchemaValidator.validate(event.type(), encoded));
                assertEquals(event, codec.decode(encoded).orElseThrow(), "re-encoded event decodes differently");
                // Asked for another type, the same bytes are refused as such.
                for (EventType other : EventType.values()) {
                    if (other != event.type()) {
                        var asOther = codec.decode(mutant.bytes(), other.recordType());
                        assertEquals(FailureKind.WRONG_EVENT_TYPE, ((DecodeResult.Invalid<?>) asOther).kind());
                    }
                }
            }
            case DecodeResult.Invalid<Event> invalid -> {
                assertNotEquals(FailureKind.INTERNAL_ERROR, invalid.kind(), invalid.reason());
                assertFalse(invalid.problems().isEmpty());
                assertTrue(invalid.problems().stream().noneMatch(String::isBlank));
                assertSame(mutant.bytes(), invalid.raw());
                assertEquals(invalid.reason(), assertThrows(InvalidEventException.class, invalid::orElseThrow).getMessage());
                if (schemaErrors != null && schemaErrors.isEmpty()) {
                    assertOnlyDocumentedExtraRule(invalid);
                }
                if (invalid.kind() == FailureKind.SCHEMA_VIOLATION && schemaErrors != null) {
                    assertFalse(schemaErrors.isEmpty(), "codec saw a schema violation the schema file does not: "
                            + invalid.reason());
                }
                var typed = codec.decode(mutant.bytes(), expected.recordType());
                assertTrue(typed instanceof DecodeResult.Invalid<?>, "typed decode accepted what untyped refused");
            }
        }
    }

    /**
     * Schema-valid JSON that the codec still refuses must fall under a rule EVENTS.md documents:
     * strict UTF-8 and Unicode, no duplicate names, the nesting limit, the size limit, the token count.
     */
    private static void assertOnlyDocumentedExtraRule(DecodeResult.Invalid<?> invalid) {
        boolean documented = switch (invalid.kind()) {
            case NOT_UTF8, TOO_LARGE -> true;
            case MALFORMED_JSON -> invalid.reason().contains("Duplicate") || invalid.reason().contains("nesting depth");
            case INVALID_VALUE -> invalid.reason().contains("tokenIds has");
            default -> false;
        };
        if (!documented) {
            fail("the schema file accepts this but the codec refuses it: " + invalid.reason());
        }
    }

    /** The schema files' verdict on the bytes as a plain JSON parser reads them; null if it cannot. */
    private static List<Error> independentValidation(byte[] bytes) {
        try {
            var json = SchemaValidator.PLAIN.readTree(bytes);
            if (json == null || !json.isObject() || !json.path("schema").isString()) {
                return null;
            }
            return EventType.bySchemaId(json.get("schema").stringValue())
                    .map(type -> SchemaValidator.validate(type, json))
                    .orElse(null);
        } catch (JacksonException e) {
            return null;
        }
    }

    @Test
    void mutatorIsDeterministic() {
        Mutator a = new Mutator(new Random(7), Examples.ALL);
        Mutator b = new Mutator(new Random(7), Examples.ALL);
        for (Examples example : Examples.ALL) {
            assertArrayEquals(a.mutate(example).bytes(), b.mutate(example).bytes());
        }
    }
}
