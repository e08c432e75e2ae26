package dev.lethe.gateway.it;

import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.Event;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A stand-in for the inference worker that streams: each job's tokens come {@code chunkTokens} at a
 * time, one chunk every {@code interval}, as {@link FakeWorker#expectedText} spells them, then its
 * COMPLETED state. Its producer is set up as the real worker's (idempotent, acks=all) and keeps
 * retrying while the broker is away, so records sent during an outage arrive after it, in order,
 * without duplicates. A request seen again (redelivered after a broker restart) is ignored, as the
 * real worker ignores a job it already runs.
 */
final class PacedWorker implements AutoCloseable {

    static final String WORKER = "paced-worker-0";

    final List<Exception> sendFailures = new CopyOnWriteArrayList<>();

    private final EventCodec codec = new EventCodec();
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final ScheduledExecutorService pace = Executors.newSingleThreadScheduledExecutor();
    private final Set<String> started = ConcurrentHashMap.newKeySet();
    private final Duration interval;
    private final int chunkTokens;
    private final Thread thread;
    private volatile boolean running = true;

    PacedWorker(String bootstrapServers, Duration interval, int chunkTokens) {
        this.interval = interval;
        this.chunkTokens = chunkTokens;
        consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.GROUP_ID_CONFIG, "paced-worker",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                new StringDeserializer(), new ByteArrayDeserializer());
        producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, 0,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 120_000),
                new StringSerializer(), new ByteArraySerializer());
        consumer.subscribe(List.of(Topics.REQUESTS));
        thread = Thread.ofPlatform().name("paced-worker").start(this::run);
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(50))) {
                    if (codec.decode(record.value(), JobRequest.class) instanceof DecodeResult.Valid<JobRequest>(
                            JobRequest request) && started.add(request.jobId())) {
                        start(request);
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close(CloseOptions.timeout(Duration.ZERO));
        }
    }

    private void start(JobRequest request) {
        int total = request.sampling().maxTokens();
        send(Topics.JOBS, status(request, JobState.RUNNING, -1, null));
        for (int from = 0, step = 1; from < total; from += chunkTokens, step++) {
            int first = from;
            int last = Math.min(total, from + chunkTokens) - 1;
            pace.schedule(() -> {
                List<Integer> ids = IntStream.rangeClosed(first, last).mapToObj(i -> 1000 + i).toList();
                StringBuilder text = new StringBuilder();
                IntStream.rangeClosed(first, last).forEach(i -> text.append('w').append(i).append(' '));
                boolean end = last == total - 1;
                send(Topics.TOKENS, new TokenChunk(request.jobId(), first, last, ids, text.toString(), WORKER, 1,
                        end ? FinishReason.LENGTH : null, Instant.now()));
                if (end) {
                    send(Topics.JOBS, status(request, JobState.COMPLETED, last, FinishReason.LENGTH));
                }
            }, interval.toMillis() * step, TimeUnit.MILLISECONDS);
        }
    }

    private static JobStatus status(JobRequest request, JobState state, long lastSeq, FinishReason finish) {
        List<JobEvent> history = new ArrayList<>();
        history.add(new JobEvent(JobEvent.Type.ACCEPTED, request.createdAt(), WORKER, null));
        history.add(new JobEvent(JobEvent.Type.STARTED, request.createdAt(), WORKER, null));
        if (state.isFinal()) {
            history.add(new JobEvent(JobEvent.Type.valueOf(state.name()), Instant.now(), WORKER, null));
        }
        return new JobStatus(request.jobId(), request.tenant(), state, WORKER, lastSeq, 3, lastSeq + 1, finish, null,
                history, Instant.now());
    }

    private void send(String topic, Event event) {
        producer.send(new ProducerRecord<>(topic, event.jobId(), codec.encode(event)), (metadata, error) -> {
            if (error != null) {
                sendFailures.add(error);
            }
        });
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        pace.shutdownNow();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(Duration.ofSeconds(2));
    }
}
