package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testutil.SoloRun;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.DeadLetters;
import dev.lethe.schemas.Event;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.KvPolicy;
import dev.lethe.schemas.Sampling;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.test.context.EmbeddedKafka;
import org.springframework.kafka.test.utils.ContainerTestUtils;

/**
 * The worker against a real broker (in-JVM KRaft): requests in, token chunks and job states out, compared with
 * the same jobs run directly on the engine.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.kafka.bootstrap-servers=${spring.embedded.kafka.brokers}",
        "lethe.worker.model=${lethe.shared.dir}/models/stories260K.gguf",
        "lethe.worker.id=it-worker",
        "lethe.worker.max-active-jobs=3",
        "lethe.worker.queue-capacity=2",
        "lethe.worker.topics.partitions=2",
        "lethe.worker.checkpoints.store=${java.io.tmpdir}/lethe-worker-it-checkpoints",
        "lethe.worker.checkpoints.every-tokens=0",
        "lethe.worker.checkpoints.every=0s"})
@EmbeddedKafka(partitions = 2, brokerProperties = {"offsets.topic.num.partitions=2", "group.initial.rebalance.delay.ms=0"})
class WorkerIntegrationTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final EventCodec CODEC = new EventCodec();

    @Value("${spring.embedded.kafka.brokers}")
    String brokers;
    @Autowired
    Model model;
    @Autowired
    MeterRegistry registry;
    @Autowired
    KafkaListenerEndpointRegistry listeners;
    @LocalServerPort
    int port;

    private static KafkaProducer<byte[], byte[]> producer;

    @BeforeAll
    static void noProducerYet() {
        producer = null;
    }

    @AfterAll
    static void closeProducer() {
        if (producer != null) producer.close();
    }

    private KafkaProducer<byte[], byte[]> producer() {
        if (producer == null) {
            producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers,
                    ProducerConfig.ACKS_CONFIG, "all"), new ByteArraySerializer(), new ByteArraySerializer());
        }
        return producer;
    }

    private RecordMetadata produce(String topic, String key, byte[] value, Header... headers) throws Exception {
        var record = new ProducerRecord<>(topic, null, key == null ? null : key.getBytes(StandardCharsets.UTF_8), value,
                List.of(headers));
        return producer().send(record).get();
    }

    private void submit(JobRequest request) throws Exception {
        produce(Topics.REQUESTS, request.jobId(), CODEC.encode(request));
    }

    private static JobRequest request(String jobId, String prompt, Sampling sampling, KvPolicy policy) {
        return new JobRequest(jobId, "acme", prompt, null, null, sampling, policy, 5, Instant.now());
    }

    private static Sampling sampling(int maxTokens, double temperature, double topP, Long seed, List<String> stop) {
        return new Sampling(maxTokens, temperature, topP, 0, 0.0, seed, stop);
    }

    /** What the worker should produce: the job run alone on the engine with the same parameters. */
    private SoloRun.Result direct(String prompt, int maxTokens, float temperature, float topP, long seed, List<String> stop,
                                  PolicySpec policy) {
        return SoloRun.run(model, model.tokenizer().encode(prompt, true, false),
                new SamplingParams(temperature, 0, topP, 0f, seed, maxTokens, stop), policy);
    }

    private static <T extends Event> List<T> events(List<ConsumerRecord<byte[], byte[]>> records, String topic,
                                                    String jobId, Class<T> type) {
        return records.stream()
                .filter(r -> r.topic().equals(topic) && jobId.equals(new String(r.key(), StandardCharsets.UTF_8)))
                .map(r -> CODEC.decode(r.value(), type).orElseThrow())
                .toList();
    }

    private static boolean ended(List<ConsumerRecord<byte[], byte[]>> records, Collection<String> jobIds) {
        Set<String> done = records.stream()
                .filter(r -> r.topic().equals(Topics.JOBS))
                .map(r -> CODEC.decode(r.value(), JobStatus.class).orElseThrow())
                .filter(s -> s.state().isFinal())
                .map(JobStatus::jobId)
                .collect(Collectors.toSet());
        return done.containsAll(jobIds);
    }

    /** A job's chunks, checked to be contiguous from seq 0 with the finish reason on the last one only. */
    private static List<TokenChunk> checkedChunks(List<TokenChunk> chunks, int maxChunkTokens) {
        long next = 0;
        for (int i = 0; i < chunks.size(); i++) {
            TokenChunk c = chunks.get(i);
            assertEquals(next, c.fromSeq(), "chunk " + i + " of " + c.jobId() + " leaves a gap or repeats");
            assertTrue(c.tokenIds().size() <= maxChunkTokens, "chunk of " + c.tokenIds().size() + " tokens");
            assertEquals("it-worker", c.worker());
            assertEquals(1, c.attempt());
            if (i < chunks.size() - 1) {
                assertNull(c.finishReason(), "finish reason before the last chunk of " + c.jobId());
            }
            next = c.toSeq() + 1;
        }
        assertTrue(chunks.getLast().finishReason() != null, "the last chunk of a job carries its finish reason");
        return chunks;
    }

    private static List<Integer> ids(List<TokenChunk> chunks) {
        return chunks.stream().flatMap(c -> c.tokenIds().stream()).toList();
    }

    private static String text(List<TokenChunk> chunks) {
        return chunks.stream().map(TokenChunk::textDelta).collect(Collectors.joining());
    }

    private static FinishReason reason(dev.lethe.engine.generate.FinishReason engine) {
        return FinishReason.valueOf(engine.name());
    }

    record Case(JobRequest request, SoloRun.Result expected) {}

    @Test
    void jobsStreamGapFreeChunksWithTheTextOfADirectRunAndEndCompleted() throws Exception {
        PolicySpec lethe = PolicySpec.of("lethe");
        List<Case> cases = List.of(
                new Case(request("greedy-1", "Once upon a time", sampling(200, 0, 1, null, List.of()), null),
                        direct("Once upon a time", 200, 0, 1, 0, List.of(), lethe)),
                new Case(request("seeded-1", "Tim and Sue", sampling(150, 0.9, 1, 42L, List.of()), null),
                        direct("Tim and Sue", 150, 0.9f, 1, 42, List.of(), lethe)),
                new Case(request("nucleus-1", "The cat", sampling(120, 1, 0.9, 7L, List.of()),
                        new KvPolicy("streamingllm", Map.of("window", 32.0))),
                        direct("The cat", 120, 1, 0.9f, 7, List.of(), PolicySpec.of("streamingllm", "window", "32"))),
                new Case(request("stop-1", "Once upon a time", sampling(200, 0, 1, null, List.of(".")), null),
                        direct("Once upon a time", 200, 0, 1, 0, List.of("."), lethe)),
                new Case(request("pruned-1", "Lily had a ball", sampling(300, 0.8, 1, 3L, List.of()),
                        new KvPolicy("lethe", Map.of("sparse-ratio", 2.0, "delta", 32.0))),
                        direct("Lily had a ball", 300, 0.8f, 1, 3, List.of(),
                                PolicySpec.of("lethe", "sparse-ratio", "2", "delta", "32"))),
                new Case(request("full-1", "Sue", sampling(60, 0, 1, null, List.of()), new KvPolicy("full", Map.of())),
                        direct("Sue", 60, 0, 1, 0, List.of(), PolicySpec.of("full"))));
        // Six at once against 3 slots and a queue of 2: the worker must pause reading requests, then resume.
        for (Case c : cases) submit(c.request());
        List<String> jobIds = cases.stream().map(c -> c.request().jobId()).toList();
        List<ConsumerRecord<byte[], byte[]>> records;
        try (var reader = new TopicReader(brokers, Topics.TOKENS, Topics.JOBS)) {
            records = reader.awaitUntil(r -> ended(r, jobIds), TIMEOUT, "jobs " + jobIds + " to end");
            // The final state is written after the last chunk is acknowledged, but read them all to be sure.
            records = reader.awaitUntil(r -> cases.stream().allMatch(c -> {
                List<TokenChunk> chunks = events(r, Topics.TOKENS, c.request().jobId(), TokenChunk.class);
                return !chunks.isEmpty() && chunks.getLast().finishReason() != null;
            }), TIMEOUT, "the last chunks");
        }
        for (Case c : cases) {
            String id = c.request().jobId();
            List<TokenChunk> chunks = checkedChunks(events(records, Topics.TOKENS, id, TokenChunk.class), 16);
            assertEquals(c.expected().ids(), ids(chunks), id + ": token ids");
            assertEquals(c.expected().text(), text(chunks), id + ": text");
            assertEquals(reason(c.expected().finishReason()), chunks.getLast().finishReason(), id);
            int n = c.expected().ids().size();
            if (n >= 100) {
                assertTrue(chunks.size() <= n / 3, id + ": " + chunks.size() + " chunks for " + n + " tokens");
            }

            List<JobStatus> states = events(records, Topics.JOBS, id, JobStatus.class);
            assertEquals(List.of(JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED),
                    states.stream().map(JobStatus::state).toList(), id);
            JobStatus last = states.getLast();
            assertEquals("it-worker", last.worker());
            assertEquals("acme", last.tenant());
            assertEquals(model.tokenizer().encode(c.request().prompt(), true, false).length, last.promptTokens(), id);
            assertEquals(n, last.completionTokens(), id);
            assertEquals(n - 1, last.lastSeq(), id);
            assertEquals(reason(c.expected().finishReason()), last.finishReason(), id);
            assertEquals(List.of(JobEvent.Type.ACCEPTED, JobEvent.Type.STARTED, JobEvent.Type.COMPLETED),
                    last.history().stream().map(JobEvent::type).toList(), id);
            assertTrue(last.history().getFirst().detail().startsWith("request lethe.requests-"), last.history().getFirst().detail());
        }
        assertEquals(FinishReason.STOP, events(records, Topics.JOBS, "stop-1", JobStatus.class).getLast().finishReason());
        assertTrue(registry.get("lethe.worker.requests.pauses").counter().count() > 0,
                "the full queue never paused the request consumer");
        assertRequestOffsetsCommitted();
    }

    /** Every request read was committed by group lethe-workers (each was accepted or dead-lettered first). */
    private void assertRequestOffsetsCommitted() throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers))) {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (true) {
                Map<TopicPartition, OffsetAndMetadata> committed =
                        admin.listConsumerGroupOffsets("lethe-workers").partitionsToOffsetAndMetadata().get();
                Map<TopicPartition, OffsetSpec> ask = committed.keySet().stream()
                        .collect(Collectors.toMap(Function.identity(), tp -> OffsetSpec.latest()));
                var ends = admin.listOffsets(ask).all().get();
                boolean all = !committed.isEmpty() && committed.entrySet().stream()
                        .allMatch(e -> e.getValue().offset() == ends.get(e.getKey()).offset());
                if (all) return;
                if (System.nanoTime() > deadline) throw new AssertionError("request offsets not committed: " + committed + " vs " + ends);
                Thread.sleep(100);
            }
        }
    }

    @Test
    void badRecordsGoToTheDeadLetterTopicAsTheyCameAndTheWorkerKeepsServing() throws Exception {
        var trace = new org.apache.kafka.common.header.internals.RecordHeader("trace-id", "t-123".getBytes(StandardCharsets.UTF_8));
        byte[] notJson = "{\"schema\": \"lethe.job-request/v1\", \"jobId\": ".getBytes(StandardCharsets.UTF_8);
        RecordMetadata malformed = produce(Topics.REQUESTS, "bad-json", notJson, trace);
        byte[] hotter = new String(CODEC.encode(request("too-hot", "Tim", sampling(10, 1.0, 1, 1L, List.of()), null)),
                StandardCharsets.UTF_8).replace("\"temperature\":1.0", "\"temperature\":5.0").getBytes(StandardCharsets.UTF_8);
        assertTrue(new String(hotter, StandardCharsets.UTF_8).contains("5.0"), "the test's edit did not apply");
        RecordMetadata violation = produce(Topics.REQUESTS, "too-hot", hotter);
        byte[] valid = CODEC.encode(request("rekeyed", "Tim", sampling(10, 0, 1, null, List.of()), null));
        RecordMetadata wrongKey = produce(Topics.REQUESTS, "not-the-job-id", valid);
        submit(request("after-dlq", "Once upon a time", sampling(40, 0, 1, null, List.of()), null));

        List<ConsumerRecord<byte[], byte[]>> records;
        try (var reader = new TopicReader(brokers, Topics.DLQ, Topics.TOKENS, Topics.JOBS)) {
            records = reader.awaitUntil(r -> ended(r, List.of("after-dlq"))
                    && r.stream().filter(x -> x.topic().equals(Topics.DLQ)).count() >= 3, TIMEOUT, "3 dead letters and job after-dlq");
        }
        Map<String, ConsumerRecord<byte[], byte[]>> dead = records.stream().filter(r -> r.topic().equals(Topics.DLQ))
                .collect(Collectors.toMap(r -> new String(r.key(), StandardCharsets.UTF_8), r -> r));
        assertEquals(Set.of("bad-json", "too-hot", "not-the-job-id"), dead.keySet());
        checkDeadLetter(dead.get("bad-json"), notJson, malformed, "MALFORMED_JSON", "not JSON");
        assertEquals("t-123", header(dead.get("bad-json"), "trace-id"), "the record's own headers are kept");
        checkDeadLetter(dead.get("too-hot"), hotter, violation, "SCHEMA_VIOLATION", "temperature");
        checkDeadLetter(dead.get("not-the-job-id"), valid, wrongKey, "KEY_NOT_JOB_ID", "is not the job id 'rekeyed'");

        List<TokenChunk> chunks = checkedChunks(events(records, Topics.TOKENS, "after-dlq", TokenChunk.class), 16);
        SoloRun.Result expected = direct("Once upon a time", 40, 0, 1, 0, List.of(), PolicySpec.of("lethe"));
        assertEquals(expected.text(), text(chunks));
        assertEquals(JobState.COMPLETED, events(records, Topics.JOBS, "after-dlq", JobStatus.class).getLast().state());
        assertTrue(events(records, Topics.JOBS, "rekeyed", JobStatus.class).isEmpty(), "a dead letter must not start a job");
        assertRequestOffsetsCommitted();
    }

    private static void checkDeadLetter(ConsumerRecord<byte[], byte[]> record, byte[] value, RecordMetadata original,
                                        String errorClass, String reasonPart) {
        assertArrayEquals(value, record.value(), "the original bytes");
        assertEquals(Topics.REQUESTS, header(record, DeadLetters.ORIGINAL_TOPIC));
        assertEquals(Integer.toString(original.partition()), header(record, DeadLetters.ORIGINAL_PARTITION));
        assertEquals(Long.toString(original.offset()), header(record, DeadLetters.ORIGINAL_OFFSET));
        assertEquals(errorClass, header(record, DeadLetters.ERROR_CLASS));
        String reason = header(record, DeadLetters.ERROR_REASON);
        assertTrue(reason.contains(reasonPart), reason);
    }

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header h = record.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Test
    void aCancelStopsALongJobWithinAStepAndItEndsCancelled() throws Exception {
        ContainerTestUtils.waitForAssignment(listeners.getListenerContainer(BackPressure.REQUESTS_LISTENER), 2);
        int context = model.config().contextLength();
        SoloRun.Result uncancelled = direct("Once upon a time", context, 0.8f, 1, 99, List.of(), PolicySpec.of("lethe"));
        assertTrue(uncancelled.ids().size() > 1000, "the reference run should be long: " + uncancelled.ids().size());
        submit(request("long-1", "Once upon a time", sampling(context, 0.8, 1, 99L, List.of()), null));
        List<ConsumerRecord<byte[], byte[]>> records;
        try (var reader = new TopicReader(brokers, Topics.TOKENS, Topics.JOBS)) {
            reader.awaitUntil(r -> !events(r, Topics.TOKENS, "long-1", TokenChunk.class).isEmpty(), TIMEOUT, "the first chunk");
            produce(Topics.CONTROL, "long-1", CODEC.encode(new Control("long-1", Control.Command.CANCEL, "test", Instant.now())));
            records = reader.awaitUntil(r -> ended(r, List.of("long-1")), TIMEOUT, "long-1 to end");
            records = reader.awaitUntil(r -> {
                List<TokenChunk> c = events(r, Topics.TOKENS, "long-1", TokenChunk.class);
                return c.getLast().finishReason() != null;
            }, TIMEOUT, "the last chunk of long-1");
        }
        List<TokenChunk> chunks = checkedChunks(events(records, Topics.TOKENS, "long-1", TokenChunk.class), 16);
        assertEquals(FinishReason.CANCELLED, chunks.getLast().finishReason());
        List<Integer> streamed = ids(chunks);
        assertTrue(streamed.size() < uncancelled.ids().size(), "the job ran to its end: " + streamed.size() + " tokens");
        assertEquals(uncancelled.ids().subList(0, streamed.size()), streamed, "what was streamed is the run's beginning");
        JobStatus last = events(records, Topics.JOBS, "long-1", JobStatus.class).getLast();
        assertEquals(JobState.CANCELLED, last.state());
        assertEquals(FinishReason.CANCELLED, last.finishReason());
        assertEquals(streamed.size(), last.completionTokens());
        assertEquals(streamed.size() - 1, last.lastSeq());
        assertEquals(JobEvent.Type.CANCELLED, last.history().getLast().type());
    }

    @Test
    void healthAndPrometheusMetricsAreServed() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        var health = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), health.body());
        assertTrue(health.body().contains("\"status\":\"UP\"") && health.body().contains("\"decodeThread\":\"running\""), health.body());
        var prometheus = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/prometheus")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, prometheus.statusCode());
        List<String> missing = new ArrayList<>();
        for (String name : List.of("lethe_worker_tokens_generated_total", "lethe_worker_jobs_queued", "lethe_worker_jobs_active",
                "lethe_worker_kv_retained_bytes", "lethe_worker_kv_full_bytes", "lethe_worker_kv_pruning_rounds_total",
                "lethe_worker_requests_paused", "lethe_worker_jobs_finished_total")) {
            if (!prometheus.body().contains(name)) missing.add(name);
        }
        assertTrue(missing.isEmpty(), "missing meters " + missing + " in:\n" + prometheus.body().lines()
                .filter(l -> l.toLowerCase(Locale.ROOT).contains("lethe")).collect(Collectors.joining("\n")));
    }
}
