package dev.lethe.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class KafkaSerdesTest {

    private final EventCodec codec = new EventCodec();

    @Test
    void serializerAndDeserializerRoundTripEveryExample() {
        try (EventSerializer<Event> serializer = new EventSerializer<>(codec);
             EventDeserializer<Event> deserializer = new EventDeserializer<>()) {
            for (Examples example : Examples.ALL) {
                Event event = codec.decode(example.bytes()).orElseThrow();
                byte[] bytes = serializer.serialize(Topics.spec(Topics.REQUESTS).name(), event);
                assertEquals(new DecodeResult.Valid<>(event), deserializer.deserialize("any", bytes), example.file());
            }
        }
    }

    @Test
    void tombstonesStayNull() {
        try (EventSerializer<JobStatus> serializer = new EventSerializer<>(codec);
             EventDeserializer<JobStatus> deserializer = new EventDeserializer<>(codec, JobStatus.class)) {
            assertNull(serializer.serialize(Topics.JOBS, null));
            assertNull(deserializer.deserialize(Topics.JOBS, null));
        }
    }

    @Test
    void badBytesBecomeAnInvalidResultWithTheBytes() {
        try (EventDeserializer<JobRequest> deserializer = new EventDeserializer<>(codec, JobRequest.class)) {
            byte[] garbage = {(byte) 0xff, 0, 1, 2};
            var result = assertInstanceOf(DecodeResult.Invalid.class, deserializer.deserialize(Topics.REQUESTS, garbage));
            assertEquals(FailureKind.NOT_UTF8, result.kind());
            assertSame(garbage, result.raw());
        }
    }

    @Test
    void configuredEventTypeNarrowsWhatIsAccepted() {
        try (EventDeserializer<Event> deserializer = new EventDeserializer<>()) {
            deserializer.configure(Map.of(EventDeserializer.EVENT_TYPE_CONFIG, "lethe.job-request/v1"), false);
            var chunk = deserializer.deserialize(Topics.REQUESTS, Examples.named("token-chunk.json").bytes());
            assertEquals(FailureKind.WRONG_EVENT_TYPE, assertInstanceOf(DecodeResult.Invalid.class, chunk).kind());
            var request = deserializer.deserialize(Topics.REQUESTS, Examples.named("job-request.json").bytes());
            assertInstanceOf(JobRequest.class, request.orElseThrow());

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> deserializer.configure(Map.of(EventDeserializer.EVENT_TYPE_CONFIG, "lethe.job-request/v9"), false));
            assertTrue(e.getMessage().contains("lethe.job-request/v9"), e.getMessage());
        }
    }

    @Test
    void serializerRefusesAnInvalidEventWithTheReason() {
        JobRequest bad = JobRequest.ofPrompt("job 1", "acme", "hi", Sampling.withMaxTokens(8), Instant.now());
        try (EventSerializer<JobRequest> serializer = new EventSerializer<>(codec)) {
            SerializationException e = assertThrows(SerializationException.class,
                    () -> serializer.serialize(Topics.REQUESTS, bad));
            assertInstanceOf(InvalidEventException.class, e.getCause());
            assertTrue(e.getMessage().contains("$.jobId"), e.getMessage());
        }
    }

    @Test
    void serializedBytesAreTheCodecsBytes() {
        Control cancel = new Control("job-1", Control.Command.CANCEL, null, Instant.parse("2026-03-14T10:00:00Z"));
        try (EventSerializer<Control> serializer = new EventSerializer<>(codec)) {
            byte[] bytes = serializer.serialize(Topics.CONTROL, cancel);
            assertArrayEquals(codec.encode(cancel), bytes);
            assertEquals("{\"schema\":\"lethe.control/v1\",\"jobId\":\"job-1\",\"command\":\"CANCEL\","
                    + "\"issuedAt\":\"2026-03-14T10:00:00Z\"}", new String(bytes, StandardCharsets.UTF_8));
        }
    }

    @Test
    void everyEventTypeHasATopic() {
        List<EventType> carried = Topics.ALL.stream().flatMap(s -> s.eventType().stream()).toList();
        assertEquals(List.of(EventType.values()), carried.stream().sorted().toList());
    }
}
