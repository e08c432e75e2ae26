package dev.lethe.gateway.kafka;

import dev.lethe.gateway.jobs.JobMdc;
import dev.lethe.gateway.jobs.TokenArchive;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.kafka.core.ConsumerFactory;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Reads a job's chunks back from {@code lethe.tokens}. The job id is the key, so all its chunks are in
 * one partition, the one Kafka's default partitioner picks (murmur2 of the key). Reading starts at the
 * first offset written at or after the job's creation (less {@link #CLOCK_SKEW}) and stops at the
 * partition's end as it was when the read began, or once {@code untilSeq} is covered.
 * Each read uses its own short-lived consumer, without a group, on a worker thread.
 */
public final class KafkaTokenArchive implements TokenArchive {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaTokenArchive.class);

    /** Gateway and worker clocks may differ; read a little earlier than the job's creation. */
    static final Duration CLOCK_SKEW = Duration.ofMinutes(1);

    private static final Duration POLL = Duration.ofMillis(200);

    private final ConsumerFactory<String, DecodeResult<TokenChunk>> consumers;
    private final Duration timeout;

    public KafkaTokenArchive(ConsumerFactory<String, DecodeResult<TokenChunk>> consumers, Duration timeout) {
        this.consumers = consumers;
        this.timeout = timeout;
    }

    @Override
    public Mono<List<TokenChunk>> read(String jobId, long afterSeq, long untilSeq, Instant since) {
        return Mono.fromCallable(() -> readBlocking(jobId, afterSeq, untilSeq, since))
                .subscribeOn(Schedulers.boundedElastic());
    }

    private List<TokenChunk> readBlocking(String jobId, long afterSeq, long untilSeq, Instant since) {
        Deadline deadline = new Deadline(System.nanoTime() + timeout.toNanos());
        List<TokenChunk> found = new ArrayList<>();
        // No group: assign() and seek() need none, and nothing is committed.
        try (Consumer<String, DecodeResult<TokenChunk>> consumer = consumers.createConsumer(null, "lethe-gateway-replay")) {
            List<PartitionInfo> partitions = consumer.partitionsFor(Topics.TOKENS, deadline.left());
            if (partitions == null || partitions.isEmpty()) {
                return found;
            }
            TopicPartition partition = new TopicPartition(Topics.TOKENS, partitionOf(jobId, partitions.size()));
            consumer.assign(List.of(partition));
            long end = consumer.endOffsets(List.of(partition), deadline.left()).get(partition);
            long start = startOffset(consumer, partition, since, end, deadline);
            if (start >= end) {
                return found;
            }
            consumer.seek(partition, start);
            long covered = afterSeq;
            while (consumer.position(partition, deadline.left()) < end && covered < untilSeq) {
                if (deadline.passed()) {
                    try (var _ = JobMdc.of(jobId)) {
                        LOG.warn("reading job {} back from {} timed out at offset {} of {}", jobId, partition,
                                consumer.position(partition), end);
                    }
                    break;
                }
                for (ConsumerRecord<String, DecodeResult<TokenChunk>> record : consumer.poll(POLL)) {
                    if (record.offset() >= end || !jobId.equals(record.key()) || record.value() == null) {
                        continue;
                    }
                    if (record.value() instanceof DecodeResult.Valid<TokenChunk>(TokenChunk chunk)
                            && (chunk.toSeq() > afterSeq || chunk.finishReason() != null)) {
                        found.add(chunk);
                        if (chunk.fromSeq() <= covered + 1) {
                            covered = Math.max(covered, chunk.toSeq());
                        }
                    }
                }
            }
        } catch (InterruptException e) {
            // The subscriber left and its read was cancelled: nobody is waiting for the result.
            Thread.interrupted();
        }
        return found;
    }

    private long startOffset(Consumer<?, ?> consumer, TopicPartition partition, Instant since, long end,
                             Deadline deadline) {
        if (since == null) {
            return consumer.beginningOffsets(List.of(partition), deadline.left()).get(partition);
        }
        long at = Math.max(0, since.minus(CLOCK_SKEW).toEpochMilli());
        Map<TopicPartition, OffsetAndTimestamp> offsets = consumer.offsetsForTimes(Map.of(partition, at), deadline.left());
        OffsetAndTimestamp offset = offsets.get(partition);
        return offset == null ? end : offset.offset(); // null: nothing was written since
    }

    /**
     * The end of one read. Every blocking call of the consumer gets what is left of it, not the whole timeout
     * each: otherwise a broker that answers slowly makes one read last several timeouts.
     */
    private record Deadline(long atNanos) {
        Duration left() {
            return Duration.ofNanos(Math.max(0, atNanos - System.nanoTime()));
        }

        boolean passed() {
            return System.nanoTime() - atNanos > 0;
        }
    }

    /** The partition Kafka's default partitioner gives a record with this key. */
    static int partitionOf(String key, int partitions) {
        return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % partitions;
    }
}
