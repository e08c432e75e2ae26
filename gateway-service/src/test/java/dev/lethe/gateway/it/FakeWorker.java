package dev.lethe.gateway.it;

import dev.lethe.schemas.ChatMessage;
import dev.lethe.schemas.CheckpointStatus;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.Event;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobError;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A stand-in for the inference worker, for the gateway's tests only: it consumes
 * {@code lethe.requests} and {@code lethe.control} and answers with JobStatus and TokenChunk events
 * encoded by the schemas' codec. The "model" writes token {@code i} as id {@code 1000 + i} with text
 * {@code "w<i> "}, in chunks of {@link #CHUNK} tokens, until {@code maxTokens}; its prompt token count
 * is the number of words of the prompt. A prompt containing {@link #HOLD} makes it write
 * {@link #HELD_TOKENS} tokens and then wait for a CANCEL. A chat request containing {@link #NO_CHAT_TEMPLATE} is
 * refused as a worker whose model has no chat template refuses it: its stream's only chunk, then FAILED with
 * {@link JobError#CHAT_NOT_SUPPORTED}.
 */
final class FakeWorker implements AutoCloseable {

    static final String HOLD = "[hold]";
    static final String NO_CHAT_TEMPLATE = "[plain-model]";
    /** With {@link #HOLD}: the held job's state says its checkpoints are failing (its store is down). */
    static final String CHECKPOINTS_FAILING = "[store-down]";
    static final String STORE_ERROR = "checkpoint store s3://ck/ unreachable: Connection refused";
    static final int CHUNK = 3;
    static final int HELD_TOKENS = 2;
    static final String WORKER = "fake-worker-0";

    final List<Control> controls = new CopyOnWriteArrayList<>();
    final List<JobRequest> requests = new CopyOnWriteArrayList<>();

    private final EventCodec codec = new EventCodec();
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final Map<String, JobRequest> held = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;
    private final CountDownLatch assigned = new CountDownLatch(1);

    FakeWorker(String bootstrapServers) {
        consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.GROUP_ID_CONFIG, "fake-worker",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                new StringDeserializer(), new ByteArrayDeserializer());
        producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.LINGER_MS_CONFIG, 0),
                new StringSerializer(), new ByteArraySerializer());
        consumer.subscribe(List.of(Topics.REQUESTS, Topics.CONTROL), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                if (!partitions.isEmpty()) {
                    assigned.countDown();
                }
            }
        });
        thread = Thread.ofPlatform().name("fake-worker").start(this::run);
    }

    /** Waits until the worker owns its partitions, so that no test waits for the group to form. */
    void awaitAssignment(Duration timeout) {
        try {
            if (!assigned.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("the fake worker got no partitions within " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static String expectedText(int tokens) {
        StringBuilder text = new StringBuilder();
        IntStream.range(0, tokens).forEach(i -> text.append('w').append(i).append(' '));
        return text.toString();
    }

    static long promptWords(JobRequest request) {
        String text = request.prompt() != null ? request.prompt()
                : String.join(" ", request.messages().stream().map(ChatMessage::content).toList());
        return text.isBlank() ? 0 : text.strip().split("\\s+").length;
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(50))) {
                    Event event = codec.decode(record.value()).orElseThrow();
                    switch (event) {
                        case JobRequest request -> {
                            requests.add(request);
                            start(request);
                        }
                        case Control control -> {
                            controls.add(control);
                            JobRequest request = held.remove(control.jobId());
                            if (request != null && control.command() == Control.Command.CANCEL) {
                                send(Topics.TOKENS, new TokenChunk(request.jobId(), HELD_TOKENS, HELD_TOKENS - 1,
                                        List.of(), "", WORKER, 1, FinishReason.CANCELLED, Instant.now()));
                                send(Topics.JOBS, status(request, JobState.CANCELLED, HELD_TOKENS - 1,
                                        FinishReason.CANCELLED));
                            }
                        }
                        default -> throw new IllegalStateException("unexpected event " + event);
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
        if (request.messages() != null && request.messages().toString().contains(NO_CHAT_TEMPLATE)) {
            send(Topics.TOKENS, new TokenChunk(request.jobId(), 0, -1, List.of(), "", WORKER, 1, FinishReason.ERROR,
                    Instant.now()));
            send(Topics.JOBS, new JobStatus(request.jobId(), request.tenant(), JobState.FAILED, WORKER, -1, 0, 0,
                    FinishReason.ERROR, new JobError(JobError.CHAT_NOT_SUPPORTED, "model 'plain' cannot run a chat"
                            + " request: it has no chat template (send a plain prompt instead)"),
                    List.of(new JobEvent(JobEvent.Type.ACCEPTED, request.createdAt(), WORKER, null),
                            new JobEvent(JobEvent.Type.FAILED, Instant.now(), WORKER, null)), Instant.now()));
            producer.flush();
            return;
        }
        send(Topics.JOBS, status(request, JobState.QUEUED, -1, null));
        send(Topics.JOBS, status(request, JobState.RUNNING, -1, null));
        boolean hold = (request.prompt() != null ? request.prompt() : request.messages().toString()).contains(HOLD);
        int total = hold ? HELD_TOKENS : request.sampling().maxTokens();
        for (int from = 0; from < total; from += CHUNK) {
            int to = Math.min(total, from + CHUNK) - 1;
            boolean last = to == total - 1 && !hold;
            List<Integer> ids = IntStream.rangeClosed(from, to).mapToObj(i -> 1000 + i).toList();
            StringBuilder text = new StringBuilder();
            IntStream.rangeClosed(from, to).forEach(i -> text.append('w').append(i).append(' '));
            send(Topics.TOKENS, new TokenChunk(request.jobId(), from, to, ids, text.toString(), WORKER, 1,
                    last ? FinishReason.LENGTH : null, Instant.now()));
        }
        if (hold) {
            JobStatus running = status(request, JobState.RUNNING, total - 1, null);
            if (request.prompt() != null && request.prompt().contains(CHECKPOINTS_FAILING)) {
                running = new JobStatus(running.jobId(), running.tenant(), running.state(), running.worker(),
                        running.lastSeq(), running.promptTokens(), running.completionTokens(), null, null,
                        running.history(), running.updatedAt(), new CheckpointStatus(CheckpointStatus.State.FAILING, 3,
                                request.createdAt(), STORE_ERROR, 0));
            }
            send(Topics.JOBS, running);
            held.put(request.jobId(), request);
        } else {
            send(Topics.JOBS, status(request, JobState.COMPLETED, total - 1, FinishReason.LENGTH));
        }
        producer.flush();
    }

    private JobStatus status(JobRequest request, JobState state, long lastSeq, FinishReason finish) {
        List<JobEvent> history = new ArrayList<>();
        history.add(new JobEvent(JobEvent.Type.ACCEPTED, request.createdAt(), WORKER, null));
        if (state != JobState.QUEUED) {
            history.add(new JobEvent(JobEvent.Type.STARTED, request.createdAt(), WORKER, null));
        }
        if (state.isFinal()) {
            history.add(new JobEvent(JobEvent.Type.valueOf(state.name()), Instant.now(), WORKER, null));
        }
        return new JobStatus(request.jobId(), request.tenant(), state, WORKER, lastSeq, promptWords(request),
                lastSeq + 1, finish, null, history, Instant.now());
    }

    private void send(String topic, Event event) {
        producer.send(new ProducerRecord<>(topic, event.jobId(), codec.encode(event)));
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(Duration.ofSeconds(2));
    }
}
