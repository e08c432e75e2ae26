package dev.lethe.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

class TopicsAndDeadLettersTest {

    @Test
    void jobScopedTopicsArePartitionedAlike() {
        Set<String> coPartitioned = Topics.ALL.stream().filter(Topics.Spec::coPartitioned).map(Topics.Spec::name)
                .collect(Collectors.toSet());
        assertEquals(Set.of(Topics.REQUESTS, Topics.JOBS, Topics.CHECKPOINTS, Topics.CONTROL), coPartitioned);
        for (NewTopic topic : Topics.newTopics(7, (short) 3)) {
            assertEquals(7, topic.numPartitions(), topic.name());
            assertEquals((short) 3, topic.replicationFactor(), topic.name());
        }
    }

    @Test
    void latestStateTopicsAreCompactedAndTheRestExpire() {
        for (Topics.Spec spec : Topics.ALL) {
            boolean compacted = spec.name().equals(Topics.JOBS) || spec.name().equals(Topics.CHECKPOINTS);
            assertEquals(compacted ? "compact" : "delete", spec.configs().get("cleanup.policy"), spec.name());
            assertEquals(!compacted, spec.configs().containsKey("retention.ms"), spec.name());
        }
        assertEquals(6, Topics.ALL.stream().map(Topics.Spec::name).distinct().count());
        assertThrows(IllegalArgumentException.class, () -> Topics.spec("lethe.nope"));
        assertEquals(Topics.spec(Topics.DLQ).configs(), Topics.spec(Topics.DLQ).newTopic(1, (short) 1).configs());
    }

    @Test
    void deadLetterKeepsTheRecordAndSaysWhereItCameFromAndWhy() {
        byte[] key = {(byte) 0xC3, 0x28}; // not even UTF-8: the DLQ must still carry it as it was
        byte[] value = "{\"schema\":\"lethe.job-request/v1\"}".getBytes(StandardCharsets.UTF_8);
        RecordHeaders headers = new RecordHeaders();
        headers.add("traceparent", "00-abc-def-01".getBytes(StandardCharsets.UTF_8));
        headers.add(DeadLetters.ERROR_REASON, "an older failure".getBytes(StandardCharsets.UTF_8));
        ConsumerRecord<byte[], byte[]> failed = new ConsumerRecord<>(Topics.REQUESTS, 5, 1234L, 1L,
                TimestampType.CREATE_TIME, key.length, value.length, key, value, headers, Optional.empty());

        var invalid = new EventCodec().decode(value, JobRequest.class);
        ProducerRecord<byte[], byte[]> letter = DeadLetters.of(failed, (DecodeResult.Invalid<?>) invalid);

        assertEquals(Topics.DLQ, letter.topic());
        assertNull(letter.partition());
        assertArrayEquals(key, letter.key());
        assertArrayEquals(value, letter.value());
        assertEquals("00-abc-def-01", header(letter, "traceparent"));
        assertEquals(Topics.REQUESTS, header(letter, DeadLetters.ORIGINAL_TOPIC));
        assertEquals("5", header(letter, DeadLetters.ORIGINAL_PARTITION));
        assertEquals("1234", header(letter, DeadLetters.ORIGINAL_OFFSET));
        assertEquals("SCHEMA_VIOLATION", header(letter, DeadLetters.ERROR_CLASS));
        String reason = header(letter, DeadLetters.ERROR_REASON);
        assertTrue(reason.contains("required property 'jobId' not found"), reason);
        assertEquals(1, count(letter, DeadLetters.ERROR_REASON), "the older failure's reason is replaced");
    }

    @Test
    void longReasonsAreCut() {
        ConsumerRecord<byte[], byte[]> failed = new ConsumerRecord<>(Topics.TOKENS, 0, 0L, new byte[0], new byte[0]);
        ProducerRecord<byte[], byte[]> letter = DeadLetters.of(failed, "é".repeat(10_000), "java.lang.IllegalStateException");
        String reason = header(letter, DeadLetters.ERROR_REASON);
        assertEquals(DeadLetters.MAX_REASON_CHARS + 3, reason.length());
        assertEquals("java.lang.IllegalStateException", header(letter, DeadLetters.ERROR_CLASS));
    }

    private static String header(ProducerRecord<byte[], byte[]> record, String key) {
        Header header = record.headers().lastHeader(key);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    private static int count(ProducerRecord<byte[], byte[]> record, String key) {
        List<Header> found = new ArrayList<>();
        record.headers().headers(key).forEach(found::add);
        return found.size();
    }
}
