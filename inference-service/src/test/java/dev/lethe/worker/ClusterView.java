package dev.lethe.worker;

import dev.lethe.schemas.CheckpointManifest;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.Event;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * What a client sees of every job, read from lethe.tokens, lethe.jobs and lethe.checkpoints from the beginning (no
 * consumer group). Each record is decoded once, as it arrives, and filed under its job, so that waiting on a
 * condition costs the same however long the cluster has been running.
 */
final class ClusterView implements AutoCloseable {
    private static final EventCodec CODEC = new EventCodec();

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Map<String, List<TokenChunk>> chunks = new HashMap<>();
    private final Map<String, JobStatus> statuses = new HashMap<>();
    private final Map<String, List<CheckpointManifest>> manifests = new HashMap<>();

    ClusterView(String brokers) {
        consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers),
                new ByteArrayDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : List.of(Topics.TOKENS, Topics.JOBS, Topics.CHECKPOINTS)) {
            consumer.partitionsFor(topic, Duration.ofSeconds(30))
                    .forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /** Reads until {@code done} holds; fails after the timeout naming what it waited for. */
    void awaitUntil(Predicate<ClusterView> done, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.test(this)) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            poll();
        }
    }

    /** Reads every record written so far (as of the call). */
    void catchUp(Duration timeout) {
        Map<TopicPartition, Long> ends = consumer.endOffsets(consumer.assignment(), timeout);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (ends.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
            if (System.nanoTime() > deadline) throw new AssertionError("could not read to the end within " + timeout);
            poll();
        }
    }

    private void poll() {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
            if (r.key() == null || r.value() == null) continue;
            String job = new String(r.key(), StandardCharsets.UTF_8);
            switch (r.topic()) {
                case Topics.TOKENS -> decode(r, TokenChunk.class).ifPresent(c -> chunks.computeIfAbsent(job, k -> new ArrayList<>()).add(c));
                case Topics.JOBS -> decode(r, JobStatus.class).ifPresent(s -> statuses.put(job, s));
                case Topics.CHECKPOINTS -> decode(r, CheckpointManifest.class)
                        .ifPresent(m -> manifests.computeIfAbsent(job, k -> new ArrayList<>()).add(m));
                default -> { }
            }
        }
    }

    private static <T extends Event> java.util.Optional<T> decode(ConsumerRecord<byte[], byte[]> r, Class<T> type) {
        return CODEC.decode(r.value(), type) instanceof DecodeResult.Valid<T>(T event) ? java.util.Optional.of(event)
                : java.util.Optional.empty();
    }

    /** The job's chunks in seq order (as written: a broken stream shows as gaps or repeats). */
    List<TokenChunk> chunks(String jobId) {
        List<TokenChunk> out = new ArrayList<>(chunks.getOrDefault(jobId, List.of()));
        out.sort(Comparator.comparingLong(TokenChunk::fromSeq));
        return out;
    }

    /** How many tokens of the job have been streamed. */
    int streamed(String jobId) {
        return chunks.getOrDefault(jobId, List.of()).stream().mapToInt(c -> (int) c.toSeq() + 1).max().orElse(0);
    }

    /** The job's latest status, or null before its first. */
    JobStatus status(String jobId) {
        return statuses.get(jobId);
    }

    /** The worker of the job's latest status, or null. */
    String owner(String jobId) {
        JobStatus s = statuses.get(jobId);
        return s == null ? null : s.worker();
    }

    /** Whether the job reached a final state and its stream ended. */
    boolean finished(String jobId) {
        JobStatus s = statuses.get(jobId);
        return s != null && s.state().isFinal()
                && chunks.getOrDefault(jobId, List.of()).stream().anyMatch(c -> c.finishReason() != null);
    }

    List<CheckpointManifest> manifests(String jobId) {
        return List.copyOf(manifests.getOrDefault(jobId, List.of()));
    }

    @Override
    public void close() {
        consumer.close();
    }
}
