package dev.lethe.gateway.bench;

import dev.lethe.schemas.Event;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Stands in for the workers: writes each job's RUNNING state, then on every tick one chunk of
 * {@code chunkTokens} tokens for every job, as a worker's stream publisher would, and at the end the
 * last chunk and COMPLETED. Paced by the clock (a late tick is not made up by a burst), so the token
 * rate the gateway sees is the one asked for, independent of any model's speed.
 */
final class Pacer {

    static final String WORKER = "bench-pacer";

    private final EventCodec codec = new EventCodec();
    private final KafkaProducer<String, byte[]> producer;
    private final List<String> jobIds;
    private final String tenant;
    private final TokenTimes times;
    private final int tokensPerJob;
    private final int chunkTokens;
    private final Duration interval;
    final AtomicLong sendFailures = new AtomicLong();

    Pacer(String bootstrapServers, List<String> jobIds, String tenant, TokenTimes times, int tokensPerJob,
          int chunkTokens, Duration interval) {
        this.producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, 0),
                new StringSerializer(), new ByteArraySerializer());
        this.jobIds = jobIds;
        this.tenant = tenant;
        this.times = times;
        this.tokensPerJob = tokensPerJob;
        this.chunkTokens = chunkTokens;
        this.interval = interval;
    }

    void running() {
        for (String id : jobIds) {
            send(Topics.JOBS, status(id, JobState.RUNNING, -1, null));
        }
        producer.flush();
    }

    /** Writes every job's tokens, one chunk per job per tick; returns when the last one is written. */
    void run() throws InterruptedException {
        long start = System.nanoTime();
        long tick = 0;
        for (int from = 0; from < tokensPerJob; from += chunkTokens, tick++) {
            long due = start + tick * interval.toNanos();
            long wait = due - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
            int to = Math.min(tokensPerJob, from + chunkTokens) - 1;
            boolean last = to == tokensPerJob - 1;
            for (int job = 0; job < jobIds.size(); job++) {
                String id = jobIds.get(job);
                int first = from;
                List<Integer> ids = IntStream.rangeClosed(first, to).boxed().toList();
                String text = String.join("", IntStream.rangeClosed(first, to).mapToObj(i -> "t" + i + " ").toList());
                times.sent(job, to, System.nanoTime());
                send(Topics.TOKENS, new TokenChunk(id, first, to, ids, text, WORKER, 1,
                        last ? FinishReason.LENGTH : null, Instant.now()));
                if (last) {
                    send(Topics.JOBS, status(id, JobState.COMPLETED, to, FinishReason.LENGTH));
                }
            }
        }
        producer.flush();
    }

    private JobStatus status(String id, JobState state, long lastSeq, FinishReason finish) {
        Instant now = Instant.now();
        List<JobEvent> history = state.isFinal()
                ? List.of(new JobEvent(JobEvent.Type.STARTED, now, WORKER, null), new JobEvent(JobEvent.Type.COMPLETED, now, WORKER, null))
                : List.of(new JobEvent(JobEvent.Type.STARTED, now, WORKER, null));
        return new JobStatus(id, tenant, state, WORKER, lastSeq, 1, lastSeq + 1, finish, null, history, now);
    }

    private void send(String topic, Event event) {
        producer.send(new ProducerRecord<>(topic, event.jobId(), codec.encode(event)), (metadata, error) -> {
            if (error != null) {
                sendFailures.incrementAndGet();
            }
        });
    }

    void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
