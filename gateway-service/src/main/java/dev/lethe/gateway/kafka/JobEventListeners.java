package dev.lethe.gateway.kafka;

import dev.lethe.gateway.jobs.JobHub;
import dev.lethe.gateway.jobs.JobMdc;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands records of {@code lethe.tokens} and {@code lethe.jobs} to the {@link JobHub}. A record that is
 * not a valid event is logged and skipped: the gateway only reads, and every gateway instance reads
 * every record, so sending it to the DLQ from here would file it once per instance.
 */
public final class JobEventListeners {

    private static final Logger LOG = LoggerFactory.getLogger(JobEventListeners.class);

    private final JobHub hub;

    public JobEventListeners(JobHub hub) {
        this.hub = hub;
    }

    public void onToken(ConsumerRecord<String, DecodeResult<TokenChunk>> record) {
        switch (record.value()) {
            case null -> {
            }
            case DecodeResult.Valid<TokenChunk>(TokenChunk chunk) -> hub.onTokens(chunk);
            case DecodeResult.Invalid<TokenChunk> invalid -> skip(record, invalid);
        }
    }

    public void onStatus(ConsumerRecord<String, DecodeResult<JobStatus>> record) {
        switch (record.value()) {
            case null -> {
                if (record.key() != null) {
                    hub.onDeleted(record.key()); // a tombstone
                }
            }
            case DecodeResult.Valid<JobStatus>(JobStatus status) -> hub.onStatus(status);
            case DecodeResult.Invalid<JobStatus> invalid -> skip(record, invalid);
        }
    }

    private static void skip(ConsumerRecord<String, ?> record, DecodeResult.Invalid<?> invalid) {
        try (var _ = JobMdc.of(String.valueOf(record.key()))) {
            LOG.warn("skipping an invalid record of {}-{} at offset {} (key {}): {}", record.topic(),
                    record.partition(), record.offset(), record.key(), invalid.reason());
        }
    }
}
