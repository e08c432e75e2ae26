package dev.lethe.worker;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.MDC;
import org.springframework.kafka.listener.RecordInterceptor;

/**
 * Puts the job id of the record in hand into SLF4J's MDC (key {@code jobId}) while its listener runs,
 * so that every log line written while handling it (accepted, rejected, sent to the DLQ, a repeated
 * request) carries the id as a field of its own in structured logs. Every Lethe record is keyed by its
 * job id; the key of an invalid record is shown as it came, cut to {@link #MAX_LENGTH} characters.
 */
final class JobIdMdc implements RecordInterceptor<byte[], byte[]> {
    static final String KEY = "jobId";
    static final int MAX_LENGTH = 128;

    @Override
    public ConsumerRecord<byte[], byte[]> intercept(ConsumerRecord<byte[], byte[]> record, Consumer<byte[], byte[]> consumer) {
        if (record.key() != null) {
            String id = new String(record.key(), StandardCharsets.UTF_8);
            MDC.put(KEY, id.length() > MAX_LENGTH ? id.substring(0, MAX_LENGTH) : id);
        }
        return record;
    }

    @Override
    public void afterRecord(ConsumerRecord<byte[], byte[]> record, Consumer<byte[], byte[]> consumer) {
        MDC.remove(KEY);
    }
}
