package dev.lethe.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Bad input gives a typed failure whose reason names the problem; nothing escapes as an exception. */
class InvalidEventsTest {

    private final EventCodec codec = new EventCodec();
    private final String request = Examples.named("job-request.json").text();
    private final String chunk = Examples.named("token-chunk.json").text();
    private final String status = Examples.named("job-status.json").text();

    @Test
    void missingRequiredField() {
        assertInvalid(request.replace("\"tenant\": \"acme\",", ""), FailureKind.SCHEMA_VIOLATION, "tenant");
        assertInvalid(request.replace("\"maxTokens\": 16384,", ""), FailureKind.SCHEMA_VIOLATION, "maxTokens");
    }

    @Test
    void wrongType() {
        assertInvalid(request.replace("\"maxTokens\": 16384", "\"maxTokens\": \"many\""),
                FailureKind.SCHEMA_VIOLATION, "$.sampling.maxTokens");
        assertInvalid(request.replace("\"maxTokens\": 16384", "\"maxTokens\": 1.5"),
                FailureKind.SCHEMA_VIOLATION, "$.sampling.maxTokens");
        assertInvalid(request.replace("\"model\": \"deepseek-r1-distill-qwen-7b\"", "\"model\": null"),
                FailureKind.SCHEMA_VIOLATION, "$.model");
    }

    @Test
    void outOfRangeSampling() {
        assertInvalid(request.replace("\"temperature\": 0.6", "\"temperature\": -0.1"),
                FailureKind.SCHEMA_VIOLATION, "$.sampling.temperature");
        assertInvalid(request.replace("\"temperature\": 0.6", "\"temperature\": 2.5"),
                FailureKind.SCHEMA_VIOLATION, "$.sampling.temperature");
        assertInvalid(request.replace("\"topP\": 0.95", "\"topP\": 0"), FailureKind.SCHEMA_VIOLATION, "$.sampling.topP");
        assertInvalid(request.replace("\"topP\": 0.95", "\"topP\": 1.01"), FailureKind.SCHEMA_VIOLATION, "$.sampling.topP");
        assertInvalid(request.replace("\"priority\": 7", "\"priority\": 10"), FailureKind.SCHEMA_VIOLATION, "$.priority");
        assertInvalid(request.replace("\"seed\": 42", "\"seed\": 99999999999999999999"),
                FailureKind.SCHEMA_VIOLATION, "$.sampling.seed");
        assertInvalid(request.replace("\"maxTokens\": 16384", "\"maxTokens\": 1e308"),
                FailureKind.SCHEMA_VIOLATION, "$.sampling.maxTokens: 1.0E308 is out of range");
        assertInvalid(request.replace("\"priority\": 7", "\"priority\": -1.5e300"), FailureKind.SCHEMA_VIOLATION, "$.priority");
    }

    @Test
    void edgesOfTheRangesAreAccepted() {
        String edges = request.replace("\"temperature\": 0.6", "\"temperature\": 0")
                .replace("\"topP\": 0.95", "\"topP\": 1")
                .replace("\"seed\": 42", "\"seed\": 9007199254740991");
        JobRequest decoded = codec.decode(bytes(edges), JobRequest.class).orElseThrow();
        assertEquals(0.0, decoded.sampling().temperature());
        assertEquals(9007199254740991L, decoded.sampling().seed());
    }

    @Test
    void promptAndMessagesAreExclusive() {
        String both = request.replace("\"model\":", "\"prompt\": \"hi\",\n  \"model\":");
        assertInvalid(both, FailureKind.SCHEMA_VIOLATION, "one and only one");
        String neither = Examples.named("job-request-minimal.json").text().replace("\"prompt\": \"Once upon a time\",", "");
        assertInvalid(neither, FailureKind.SCHEMA_VIOLATION, "prompt");
    }

    @Test
    void unknownOrMissingSchemaId() {
        Invalid v2 = assertInvalid(request.replace("lethe.job-request/v1", "lethe.job-request/v2"),
                FailureKind.UNKNOWN_SCHEMA, "lethe.job-request/v2");
        assertTrue(v2.reason().contains("lethe.token-chunk/v1"), "lists the known ids: " + v2.reason());
        assertInvalid(request.replace("\"schema\": \"lethe.job-request/v1\",", ""), FailureKind.UNKNOWN_SCHEMA, "missing");
        assertInvalid(request.replace("\"lethe.job-request/v1\"", "7"), FailureKind.UNKNOWN_SCHEMA, "a number");
    }

    @Test
    void eventOfAnotherType() {
        DecodeResult<JobRequest> result = codec.decode(bytes(chunk), JobRequest.class);
        Invalid invalid = invalid(result);
        assertEquals(FailureKind.WRONG_EVENT_TYPE, invalid.kind());
        assertTrue(invalid.reason().contains("expected lethe.job-request/v1 but got lethe.token-chunk/v1"), invalid.reason());
    }

    @Test
    void malformedJson() {
        assertInvalid("{\"schema\": \"lethe.job-request/v1\", \"jobId\": ", FailureKind.MALFORMED_JSON, "line 1");
        assertInvalid(request + " trailing", FailureKind.MALFORMED_JSON, "not JSON");
        assertInvalid(request.replace("\"temperature\": 0.6", "\"temperature\": NaN"), FailureKind.MALFORMED_JSON, "NaN");
        assertInvalid("   \n ", FailureKind.MALFORMED_JSON, "white space");
        assertInvalid(request.replace("\"priority\": 7", "\"priority\": 7, \"priority\": 1"),
                FailureKind.MALFORMED_JSON, "priority");
    }

    @Test
    void notAnObject() {
        assertInvalid("[1, 2, 3]", FailureKind.SCHEMA_VIOLATION, "an array");
        assertInvalid("\"lethe.job-request/v1\"", FailureKind.SCHEMA_VIOLATION, "a string");
    }

    @Test
    void notUtf8() {
        byte[] latin1 = request.replace("\"acme\"", "\"acmé\"").getBytes(StandardCharsets.ISO_8859_1);
        Invalid invalid = assertInvalid(latin1, FailureKind.NOT_UTF8, "0xe9");
        int offset = request.indexOf("acm") + 3;
        assertTrue(invalid.reason().contains("byte " + offset), invalid.reason());

        byte[] truncated = bytes(chunk);
        int at = indexOf(truncated, "²".getBytes(StandardCharsets.UTF_8));
        truncated[at + 1] = '"'; // cut the two-byte sequence in half
        assertInvalid(truncated, FailureKind.NOT_UTF8, "byte " + at);

        byte[] encodedSurrogate = request.replace("acme", "acm\uFFFF").getBytes(StandardCharsets.UTF_8);
        int ff = indexOf(encodedSurrogate, new byte[] {(byte) 0xEF, (byte) 0xBF, (byte) 0xBF});
        encodedSurrogate[ff + 1] = (byte) 0xA0; // ED A0 80 would be a surrogate; EF A0 .. is fine, so write ED
        encodedSurrogate[ff] = (byte) 0xED;
        encodedSurrogate[ff + 2] = (byte) 0x80;
        assertInvalid(encodedSurrogate, FailureKind.NOT_UTF8, "byte " + ff);
    }

    @Test
    void aLeadingByteOrderMarkIsIgnored() {
        byte[] withBom = ("\uFEFF" + request).getBytes(StandardCharsets.UTF_8);
        assertEquals(codec.decode(bytes(request)).orElseThrow(), codec.decode(withBom).orElseThrow());
        assertInvalid(("\uFEFF\uFEFF" + request).getBytes(StandardCharsets.UTF_8), FailureKind.MALFORMED_JSON, "0xfeff");
    }

    @Test
    void unpairedSurrogateEscape() {
        assertInvalid(chunk.replace("100²", "100\\ud800"), FailureKind.NOT_UTF8, "$.textDelta");
        assertInvalid(request.replace("\"gamma\"", "\"\\udc00gamma\""), FailureKind.NOT_UTF8, "(the name)");
        // A well-formed pair spelled as escapes is fine.
        TokenChunk ok = codec.decode(bytes(chunk.replace("100²", "\\ud83d\\ude00")), TokenChunk.class).orElseThrow();
        assertTrue(ok.textDelta().contains("😀"));
    }

    @Test
    void emptyInput() {
        assertInvalid(new byte[0], FailureKind.EMPTY, "no bytes");
        Invalid nothing = invalid(codec.decode(null, JobRequest.class));
        assertEquals(FailureKind.EMPTY, nothing.kind());
    }

    @Test
    void hugeNesting() {
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        assertInvalid(deep, FailureKind.MALFORMED_JSON, "nesting depth");
        String nestedValue = "{\"a\":".repeat(30) + "1" + "}".repeat(30);
        assertInvalid(request.replace("\"priority\": 7", "\"extra\": " + nestedValue),
                FailureKind.MALFORMED_JSON, "nesting depth");
    }

    @Test
    void tooLarge() {
        String huge = request.replace("Think step by step.", "x".repeat(EventCodec.MAX_EVENT_BYTES));
        assertInvalid(huge, FailureKind.TOO_LARGE, "limit of " + EventCodec.MAX_EVENT_BYTES);
    }

    @Test
    void tooLongString() {
        String longPrompt = Examples.named("job-request-minimal.json").text()
                .replace("Once upon a time", "y".repeat(262_145));
        assertInvalid(longPrompt, FailureKind.SCHEMA_VIOLATION, "$.prompt");
    }

    @Test
    void badTimestamps() {
        assertInvalid(request.replace("2026-03-14T09:26:53.589Z", "2026-02-30T09:26:53Z"),
                FailureKind.SCHEMA_VIOLATION, "$.createdAt");
        assertInvalid(request.replace("2026-03-14T09:26:53.589Z", "2026-03-14t09:26:53z"),
                FailureKind.SCHEMA_VIOLATION, "$.createdAt");
        assertInvalid(request.replace("2026-03-14T09:26:53.589Z", "yesterday"), FailureKind.SCHEMA_VIOLATION, "$.createdAt");
        JobRequest offset = codec.decode(bytes(request.replace("2026-03-14T09:26:53.589Z", "2026-03-14T10:26:53.589+01:00")),
                JobRequest.class).orElseThrow();
        assertEquals(Instant.parse("2026-03-14T09:26:53.589Z"), offset.createdAt());
    }

    @Test
    void tokenCountMustMatchTheSeqRange() {
        assertInvalid(chunk.replace("\"toSeq\": 5126", "\"toSeq\": 5130"), FailureKind.INVALID_VALUE,
                "tokenIds has 7 ids but fromSeq..toSeq = 5120..5130 spans 11");
    }

    @Test
    void endOfStreamChunkNeedsAFinishReason() {
        String empty = chunk.replace("[374, 220, 1041, 29083, 284, 220, 16]", "[]").replace("\"toSeq\": 5126", "\"toSeq\": 5119")
                .replace("\" is 100² = 10000.\"", "\"\"");
        TokenChunk end = codec.decode(bytes(empty), TokenChunk.class).orElseThrow();
        assertEquals(FinishReason.STOP, end.finishReason());
        assertInvalid(empty.replace("\"finishReason\": \"stop\",", ""), FailureKind.SCHEMA_VIOLATION, "finishReason");
    }

    @Test
    void stateDependentStatusFields() {
        assertInvalid(status.replace("\"RUNNING\"", "\"FAILED\""), FailureKind.SCHEMA_VIOLATION, "error");
        assertInvalid(status.replace("\"RUNNING\"", "\"COMPLETED\""), FailureKind.SCHEMA_VIOLATION, "finishReason");
        assertInvalid(status.replace("\"worker\": \"lethe-worker-2\",\n  \"lastSeq\"", "\"lastSeq\""),
                FailureKind.SCHEMA_VIOLATION, "worker");
        assertInvalid(status.replace("\"RUNNING\"", "\"DONE\""), FailureKind.SCHEMA_VIOLATION, "$.state");
    }

    @Test
    void everyProblemIsListed() {
        String many = request.replace("\"temperature\": 0.6", "\"temperature\": 9")
                .replace("\"topK\": 40", "\"topK\": -1")
                .replace("\"tenant\": \"acme\"", "\"tenant\": \"has spaces\"");
        Invalid invalid = assertInvalid(many, FailureKind.SCHEMA_VIOLATION, "$.sampling.temperature");
        assertTrue(invalid.reason().contains("$.sampling.topK") && invalid.reason().contains("$.tenant"), invalid.reason());
        assertEquals(3, invalid.problems().size(), invalid.problems().toString());
    }

    @Test
    void theReasonShownInEventsMdIsTheRealOne() throws java.io.IOException {
        Invalid invalid = assertInvalid(request.replace("\"temperature\": 0.6", "\"temperature\": 2.5"),
                FailureKind.SCHEMA_VIOLATION, "temperature");
        String doc = java.nio.file.Files.readString(java.nio.file.Path.of("EVENTS.md"), StandardCharsets.UTF_8);
        assertTrue(doc.contains("`" + invalid.reason() + "`"), "EVENTS.md should quote: " + invalid.reason());
    }

    @Test
    void orElseThrowGivesTheTypedException() {
        byte[] bad = bytes(request.replace("\"temperature\": 0.6", "\"temperature\": 3"));
        DecodeResult<JobRequest> result = codec.decode(bad, JobRequest.class);
        InvalidEventException e = assertThrows(InvalidEventException.class, result::orElseThrow);
        assertEquals(FailureKind.SCHEMA_VIOLATION, e.kind());
        assertEquals(invalid(result).reason(), e.getMessage());
        assertSame(bad, invalid(result).raw(), "the bytes are kept for the DLQ");
    }

    @Test
    void encodingRefusesWhatDecodingWouldRefuse() {
        Sampling hot = new Sampling(100, 3.0, 1.0, 0, 0.0, null, List.of());
        JobRequest request = JobRequest.ofPrompt("job-1", "acme", "hi", hot, Instant.now());
        InvalidEventException e = assertThrows(InvalidEventException.class, () -> codec.encode(request));
        assertEquals(FailureKind.SCHEMA_VIOLATION, e.kind());
        assertTrue(e.getMessage().contains("$.sampling.temperature"), e.getMessage());

        TokenChunk broken = new TokenChunk("job-1", 0, 0, List.of(5), "\ud800", "w1", 1, null, Instant.now());
        assertEquals(FailureKind.NOT_UTF8, assertThrows(InvalidEventException.class, () -> codec.encode(broken)).kind());

        JobRequest huge = JobRequest.ofChat("job-1", "acme",
                java.util.Collections.nCopies(8, new ChatMessage(ChatMessage.Role.USER, "z".repeat(200_000))),
                Sampling.withMaxTokens(1), Instant.now());
        assertEquals(FailureKind.TOO_LARGE, assertThrows(InvalidEventException.class, () -> codec.encode(huge)).kind());
    }

    @Test
    void recordsRejectWhatTheSchemaCannotExpress() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TokenChunk("job-1", 3, 4, List.of(1), "", "w1", 1, null, Instant.now()));
        assertTrue(e.getMessage().contains("spans 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new JobRequest("job-1", "acme", "hi",
                List.of(new ChatMessage(ChatMessage.Role.USER, "hi")), null, Sampling.withMaxTokens(1), null, 5, Instant.now()));
    }

    private Invalid assertInvalid(String json, FailureKind kind, String reasonPart) {
        return assertInvalid(bytes(json), kind, reasonPart);
    }

    private Invalid assertInvalid(byte[] json, FailureKind kind, String reasonPart) {
        DecodeResult<Event> result = codec.decode(json);
        Invalid invalid = invalid(result);
        assertEquals(kind, invalid.kind(), invalid.reason());
        assertTrue(invalid.reason().contains(reasonPart), "reason should mention '" + reasonPart + "': " + invalid.reason());
        assertArrayEquals(json, invalid.raw());
        return invalid;
    }

    private static Invalid invalid(DecodeResult<?> result) {
        return new Invalid(assertInstanceOf(DecodeResult.Invalid.class, result, () -> "accepted: " + result));
    }

    /** The raw Invalid type without generics noise. */
    private record Invalid(DecodeResult.Invalid<?> it) {
        FailureKind kind() {
            return it.kind();
        }

        String reason() {
            return it.reason();
        }

        List<String> problems() {
            return it.problems();
        }

        byte[] raw() {
            return it.raw();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
