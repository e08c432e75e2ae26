package dev.lethe.schemas;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Records for {@link Topics#DLQ}: the failed record's key, value and headers as they were, plus
 * headers saying where it came from and why it failed. Header values are UTF-8 text (numbers in
 * decimal), readable from any language.
 */
public final class DeadLetters {

    public static final String ORIGINAL_TOPIC = "lethe.dlq.original-topic";
    public static final String ORIGINAL_PARTITION = "lethe.dlq.original-partition";
    public static final String ORIGINAL_OFFSET = "lethe.dlq.original-offset";
    /** A human-readable reason, such as the schema violations found. */
    public static final String ERROR_REASON = "lethe.dlq.error-reason";
    /** A {@link FailureKind} name for events that did not decode, otherwise the exception's class name. */
    public static final String ERROR_CLASS = "lethe.dlq.error-class";

    /** Longest reason kept in a header; Kafka headers are meant to be small. */
    static final int MAX_REASON_CHARS = 4096;

    private static final String PREFIX = "lethe.dlq.";

    private DeadLetters() {
    }

    /** A record that did not decode, read with {@code ByteArrayDeserializer}s. */
    public static ProducerRecord<byte[], byte[]> of(ConsumerRecord<byte[], byte[]> failed, DecodeResult.Invalid<?> why) {
        return of(failed, why.reason(), why.kind().name());
    }

    /** A record that failed for another reason, for example an exception in its handler. */
    public static ProducerRecord<byte[], byte[]> of(ConsumerRecord<byte[], byte[]> failed, String reason,
                                                    String errorClass) {
        Headers headers = new RecordHeaders();
        // A record that failed once already and was replayed carries old DLQ headers: only the newest count.
        for (Header header : failed.headers()) {
            if (!header.key().startsWith(PREFIX)) {
                headers.add(header);
            }
        }
        headers.add(ORIGINAL_TOPIC, utf8(failed.topic()));
        headers.add(ORIGINAL_PARTITION, utf8(Integer.toString(failed.partition())));
        headers.add(ORIGINAL_OFFSET, utf8(Long.toString(failed.offset())));
        headers.add(ERROR_REASON, utf8(truncate(reason)));
        headers.add(ERROR_CLASS, utf8(errorClass));
        return new ProducerRecord<>(Topics.DLQ, null, failed.key(), failed.value(), headers);
    }

    private static String truncate(String reason) {
        if (reason.length() <= MAX_REASON_CHARS) {
            return reason;
        }
        int end = MAX_REASON_CHARS;
        if (Character.isHighSurrogate(reason.charAt(end - 1))) {
            end--; // do not cut a character in half
        }
        return reason.substring(0, end) + "...";
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
