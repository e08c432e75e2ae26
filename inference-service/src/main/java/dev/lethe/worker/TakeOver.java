package dev.lethe.worker;

import dev.lethe.engine.scheduler.JobSpec;
import dev.lethe.schemas.CheckpointManifest;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.Event;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds the unfinished jobs of newly assigned {@code lethe.requests} partitions (DESIGN §3, "Assigned"): their
 * latest states from the compacted {@code lethe.jobs}, their newest checkpoints from the compacted
 * {@code lethe.checkpoints}, their requests from {@code lethe.requests} (where their ACCEPTED event says they are),
 * and the tokens their clients already have from {@code lethe.tokens} (read from shortly before the job was
 * accepted). Each job then continues from its checkpoint, replaying the tokens streamed after it, or is recomputed.
 */
final class TakeOver {
    private static final Logger log = LoggerFactory.getLogger(TakeOver.class);
    /** Where the ACCEPTED event of a job says its request is: {@code request lethe.requests-3@17}. */
    private static final Pattern REQUEST_AT = Pattern.compile("request (\\S+)-(\\d+)@(\\d+)");
    private static final Pattern CHOSEN_SEED = Pattern.compile("seed (\\d+) chosen by the worker");
    /** Clocks of workers differ: tokens are read from this long before the job's ACCEPTED event. */
    private static final Duration CLOCK_SLACK = Duration.ofMinutes(1);

    private final Supplier<Consumer<byte[], byte[]>> consumers;
    private final EventCodec codec;
    private final JobPreparer preparer;
    private final OwnedJobs jobs;
    private final EventPublisher events;
    private final Checkpoints checkpoints;
    private final EarlyCancels earlyCancels;
    private final String workerId;
    private final Clock clock;
    private final Duration readTimeout;

    TakeOver(Supplier<Consumer<byte[], byte[]>> consumers, EventCodec codec, JobPreparer preparer, OwnedJobs jobs,
             EventPublisher events, Checkpoints checkpoints, EarlyCancels earlyCancels, String workerId, Clock clock,
             Duration readTimeout) {
        this.consumers = consumers;
        this.codec = codec;
        this.preparer = preparer;
        this.jobs = jobs;
        this.events = events;
        this.checkpoints = checkpoints;
        this.earlyCancels = earlyCancels;
        this.workerId = workerId;
        this.clock = clock;
        this.readTimeout = readTimeout;
    }

    /** What the topics say about one unfinished job. */
    private record Found(JobStatus status, int partition, CheckpointManifest manifest) {}

    /** Takes over the unfinished jobs of these partitions; returns how many. */
    int takeOver(Collection<Integer> partitions) {
        if (partitions.isEmpty()) return 0;
        long t0 = System.nanoTime();
        try (Consumer<byte[], byte[]> consumer = consumers.get()) {
            Map<String, Found> unfinished = new LinkedHashMap<>();
            Set<String> endedJobs = new HashSet<>();
            Map<String, CheckpointManifest> manifests = latest(consumer, Topics.CHECKPOINTS, partitions, CheckpointManifest.class);
            for (var entry : latestWithPartition(consumer, Topics.JOBS, partitions).entrySet()) {
                JobStatus status = entry.getValue().status();
                if (status.state().isFinal()) {
                    endedJobs.add(status.jobId());
                } else if (!jobs.knows(status.jobId())) {
                    unfinished.put(status.jobId(), new Found(status, entry.getValue().partition(), manifests.get(status.jobId())));
                }
            }
            jobs.rememberEnded(endedJobs);
            for (String jobId : manifests.keySet()) {
                // A previous owner stopped before cleaning up.
                if (endedJobs.contains(jobId)) checkpoints.deleteAll(jobId, manifests.get(jobId).checkpointId());
            }
            if (unfinished.isEmpty()) return 0;
            Map<String, JobRequest> requests = requests(consumer, unfinished.values());
            Map<String, List<TokenChunk>> chunks = tokens(consumer, unfinished.values());
            for (Found found : unfinished.values()) {
                String jobId = found.status().jobId();
                try {
                    takeOver(found, requests.get(jobId), chunks.getOrDefault(jobId, List.of()));
                } catch (RuntimeException e) {
                    log.error("job {}: take-over failed", jobId, e);
                }
            }
            log.info("took over {} unfinished job(s) of partitions {} in {} ms", unfinished.size(), partitions,
                    (System.nanoTime() - t0) / 1_000_000);
            return unfinished.size();
        }
    }

    private void takeOver(Found found, JobRequest request, List<TokenChunk> chunks) {
        JobStatus status = found.status();
        Delivered delivered = Delivered.of(chunks);
        JobTracker tracker = JobTracker.takeOver(status, workerId, clock, delivered.ids().length - 1L);
        if (delivered.finishReason() != null) {
            // The previous owner wrote the job's last chunk but died before its final state.
            events.send(events.record(Topics.JOBS, tracker.endedBefore(delivered.ids().length - 1L, delivered.finishReason())));
            jobs.rememberEnded(List.of(status.jobId()));
            checkpoints.deleteAll(status.jobId(), checkpointId(found));
            return;
        }
        if (request == null) {
            fail(tracker, found, "REQUEST_NOT_FOUND", "the request of job " + status.jobId() + " could not be read back from "
                    + Topics.REQUESTS + " (" + requestDetail(status) + ") to take the job over");
            return;
        }
        JobSpec spec;
        try {
            spec = preparer.prepare(request, chosenSeed(status));
        } catch (JobRejectedException e) {
            fail(tracker, found, e.code(), e.getMessage());
            return;
        }
        if (earlyCancels.take(status.jobId())) {
            // Cancelled while no one owned it.
            events.sendAll(List.of(
                    events.record(Topics.TOKENS, JobStream.endAfter(status.jobId(), tracker.lastSeq(), workerId, tracker.attempt(),
                            FinishReason.CANCELLED, clock)),
                    events.record(Topics.JOBS, tracker.cancelledWhileWaiting())));
            jobs.rememberEnded(List.of(status.jobId()));
            checkpoints.deleteAll(status.jobId(), checkpointId(found));
            return;
        }
        if (delivered.gap() != null) tracker.inexact(delivered.gap());
        log.info("job {}: taking over from {} ({}), {} token(s) delivered, checkpoint {}", status.jobId(), status.worker(),
                status.state(), delivered.ids().length, found.manifest() == null ? "none" : found.manifest().checkpointId()
                        + " at seq " + found.manifest().lastSeq());
        jobs.takeOver(tracker, found.partition(), spec, found.manifest(), delivered.ids());
    }

    private static String checkpointId(Found found) {
        return found.manifest() == null ? null : found.manifest().checkpointId();
    }

    private void fail(JobTracker tracker, Found found, String code, String message) {
        log.warn("job {} cannot be taken over: {}", tracker.jobId(), message);
        events.sendAll(List.of(
                events.record(Topics.TOKENS, JobStream.endAfter(tracker.jobId(), tracker.lastSeq(), workerId, tracker.attempt(),
                        FinishReason.ERROR, clock)),
                events.record(Topics.JOBS, tracker.failedTakeOver(code, message))));
        jobs.rememberEnded(List.of(tracker.jobId()));
        checkpoints.deleteAll(tracker.jobId(), checkpointId(found));
    }

    /**
     * The tokens a job's client has: the chunks of {@code lethe.tokens} contiguous from seq 0 (duplicates from
     * retries dropped), whether the last of them ended the job, and a gap, if chunks beyond a missing one exist.
     */
    record Delivered(int[] ids, FinishReason finishReason, String gap) {
        static Delivered of(List<TokenChunk> chunks) {
            List<TokenChunk> sorted = new ArrayList<>(chunks);
            sorted.sort(Comparator.comparingLong(TokenChunk::fromSeq)); // stable: the first written wins on overlaps
            List<Integer> ids = new ArrayList<>();
            FinishReason reason = null;
            String gap = null;
            for (TokenChunk chunk : sorted) {
                long next = ids.size();
                if (chunk.fromSeq() > next) {
                    gap = "tokens " + next + ".." + (chunk.fromSeq() - 1) + " are missing from " + Topics.TOKENS
                            + " while later ones are there: the job continues after seq " + (next - 1)
                            + ", so seqs from " + next + " may be sent again with other tokens";
                    break;
                }
                for (long seq = Math.max(next, chunk.fromSeq()); seq <= chunk.toSeq(); seq++) {
                    ids.add(chunk.tokenIds().get((int) (seq - chunk.fromSeq())));
                }
                if (chunk.finishReason() != null && chunk.toSeq() + 1 >= ids.size()) {
                    reason = chunk.finishReason();
                    break;
                }
            }
            return new Delivered(ids.stream().mapToInt(Integer::intValue).toArray(), reason, gap);
        }
    }

    private static Long chosenSeed(JobStatus status) {
        for (JobEvent event : status.history()) {
            if (event.type() == JobEvent.Type.ACCEPTED && event.detail() != null) {
                Matcher m = CHOSEN_SEED.matcher(event.detail());
                if (m.find()) return Long.parseLong(m.group(1));
            }
        }
        return null;
    }

    private static String requestDetail(JobStatus status) {
        return status.history().stream().filter(e -> e.type() == JobEvent.Type.ACCEPTED).map(JobEvent::detail)
                .findFirst().orElse("no ACCEPTED event");
    }

    private record Located(JobStatus status, int partition) {}

    private Map<String, Located> latestWithPartition(Consumer<byte[], byte[]> consumer, String topic, Collection<Integer> partitions) {
        Map<String, Located> latest = new HashMap<>();
        readToEnd(consumer, topicPartitions(topic, partitions), null, record -> {
            String key = new String(record.key(), StandardCharsets.UTF_8);
            if (record.value() == null) {
                latest.remove(key);
            } else if (codec.decode(record.value(), JobStatus.class) instanceof DecodeResult.Valid<JobStatus>(JobStatus s)) {
                latest.put(key, new Located(s, record.partition()));
            }
        });
        return latest;
    }

    /** The latest event per key of a compacted topic's partitions (tombstones remove the key). */
    private <T extends Event> Map<String, T> latest(Consumer<byte[], byte[]> consumer, String topic, Collection<Integer> partitions,
                                                    Class<T> type) {
        Map<String, T> latest = new HashMap<>();
        readToEnd(consumer, topicPartitions(topic, partitions), null, record -> {
            if (record.key() == null) return;
            String key = new String(record.key(), StandardCharsets.UTF_8);
            if (record.value() == null) {
                latest.remove(key);
            } else if (codec.decode(record.value(), type) instanceof DecodeResult.Valid<T>(T event)) {
                latest.put(key, event);
            }
        });
        return latest;
    }

    /** Each job's request, read at the offset its ACCEPTED event names (one pass over each partition's range). */
    private Map<String, JobRequest> requests(Consumer<byte[], byte[]> consumer, Collection<Found> found) {
        Map<TopicPartition, Map<Long, String>> wanted = new HashMap<>();
        for (Found f : found) {
            Matcher m = REQUEST_AT.matcher(requestDetail(f.status()));
            if (!m.find()) continue;
            wanted.computeIfAbsent(new TopicPartition(m.group(1), Integer.parseInt(m.group(2))), tp -> new HashMap<>())
                    .put(Long.parseLong(m.group(3)), f.status().jobId());
        }
        Map<String, JobRequest> requests = new HashMap<>();
        if (wanted.isEmpty()) return requests;
        List<TopicPartition> partitions = List.copyOf(wanted.keySet());
        Map<TopicPartition, Long> starts = new HashMap<>();
        wanted.forEach((tp, offsets) -> starts.put(tp, offsets.keySet().stream().min(Long::compare).orElseThrow()));
        Map<TopicPartition, Long> lasts = new HashMap<>();
        wanted.forEach((tp, offsets) -> lasts.put(tp, offsets.keySet().stream().max(Long::compare).orElseThrow()));
        consumer.assign(partitions);
        starts.forEach(consumer::seek);
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, readTimeout);
        long deadline = System.nanoTime() + readTimeout.toNanos();
        while (partitions.stream().anyMatch(tp -> consumer.position(tp, readTimeout) <= Math.min(lasts.get(tp), ends.get(tp) - 1))) {
            if (System.nanoTime() > deadline) break; // the requests not found fail their jobs, with the reason
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                String jobId = wanted.get(new TopicPartition(record.topic(), record.partition())).get(record.offset());
                if (jobId != null && codec.decode(record.value(), JobRequest.class)
                        instanceof DecodeResult.Valid<JobRequest>(JobRequest request) && request.jobId().equals(jobId)) {
                    requests.put(jobId, request);
                }
            }
        }
        return requests;
    }

    /** The chunks of these jobs in {@code lethe.tokens}, read from shortly before the earliest of them was accepted. */
    private Map<String, List<TokenChunk>> tokens(Consumer<byte[], byte[]> consumer, Collection<Found> found) {
        int count = consumer.partitionsFor(Topics.TOKENS, readTimeout).size();
        Map<TopicPartition, Instant> from = new HashMap<>();
        Set<String> wanted = new HashSet<>();
        for (Found f : found) {
            String jobId = f.status().jobId();
            wanted.add(jobId);
            TopicPartition tp = new TopicPartition(Topics.TOKENS, Utils.toPositive(Utils.murmur2(jobId.getBytes(StandardCharsets.UTF_8))) % count);
            Instant accepted = f.status().history().isEmpty() ? Instant.EPOCH : f.status().history().getFirst().at();
            from.merge(tp, accepted.minus(CLOCK_SLACK), (a, b) -> a.isBefore(b) ? a : b);
        }
        Map<TopicPartition, Long> starts = new HashMap<>();
        Map<TopicPartition, Long> query = new HashMap<>();
        from.forEach((tp, at) -> query.put(tp, Math.max(0, at.toEpochMilli())));
        Map<TopicPartition, OffsetAndTimestamp> offsets = consumer.offsetsForTimes(query, readTimeout);
        Map<TopicPartition, Long> ends = consumer.endOffsets(from.keySet(), readTimeout);
        for (TopicPartition tp : from.keySet()) {
            OffsetAndTimestamp at = offsets.get(tp);
            starts.put(tp, at == null ? ends.get(tp) : at.offset());
        }
        Map<String, List<TokenChunk>> chunks = new HashMap<>();
        readToEnd(consumer, List.copyOf(from.keySet()), starts, record -> {
            if (record.key() == null || record.value() == null) return;
            String key = new String(record.key(), StandardCharsets.UTF_8);
            if (!wanted.contains(key)) return;
            if (codec.decode(record.value(), TokenChunk.class) instanceof DecodeResult.Valid<TokenChunk>(TokenChunk chunk)) {
                chunks.computeIfAbsent(key, k -> new ArrayList<>()).add(chunk);
            }
        });
        return chunks;
    }

    private static List<TopicPartition> topicPartitions(String topic, Collection<Integer> partitions) {
        return partitions.stream().map(p -> new TopicPartition(topic, p)).toList();
    }

    /** Reads the partitions from {@code starts} (null: their beginning) up to their end offsets as of now. */
    private void readToEnd(Consumer<byte[], byte[]> consumer, List<TopicPartition> partitions, Map<TopicPartition, Long> starts,
                           java.util.function.Consumer<ConsumerRecord<byte[], byte[]>> action) {
        if (partitions.isEmpty()) return;
        consumer.assign(partitions);
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, readTimeout);
        if (starts == null) {
            consumer.seekToBeginning(partitions);
        } else {
            starts.forEach(consumer::seek);
        }
        long deadline = System.nanoTime() + readTimeout.toNanos();
        while (partitions.stream().anyMatch(tp -> consumer.position(tp, readTimeout) < ends.get(tp))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("could not read " + partitions + " to their end within " + readTimeout);
            }
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) action.accept(record);
        }
    }
}
