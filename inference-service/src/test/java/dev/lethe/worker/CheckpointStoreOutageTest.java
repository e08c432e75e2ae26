package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testutil.SoloRun;
import dev.lethe.schemas.CheckpointManifest;
import dev.lethe.schemas.CheckpointStatus;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.Sampling;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import dev.lethe.store.S3CheckpointStore;
import dev.lethe.store.S3ProxyServer;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.test.context.EmbeddedKafka;
import org.springframework.kafka.test.utils.ContainerTestUtils;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import software.amazon.awssdk.services.s3.S3Client;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A checkpoint-store outage, against a real broker (in-JVM KRaft) and a real S3-compatible server (S3Proxy):
 * jobs checkpoint every 16 tokens to S3, the server stops mid-job, and comes back on the same port. The circuit
 * breaker must open, the jobs keep decoding, the jobs' states, the health endpoint and the Prometheus metrics say
 * that checkpoints are failing, and once the server is back new checkpoints are durable (manifest on
 * {@code lethe.checkpoints}, blob in the store matching it) and every stream is exactly the engine's. A job
 * cancelled while the server is down keeps its blobs there until it is back; then they are deleted.
 *
 * <p>Steps last at least 25 ms ({@code min-step-time}), so that the jobs outlive the outage on any machine; every
 * wait polls for its condition (no fixed sleeps).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.kafka.bootstrap-servers=${spring.embedded.kafka.brokers}",
        "lethe.worker.model=${lethe.shared.dir}/models/stories260K.gguf",
        "lethe.worker.id=outage-worker",
        "lethe.worker.max-active-jobs=4",
        "lethe.worker.topics.partitions=2",
        "lethe.worker.min-step-time=25ms",
        "lethe.worker.checkpoints.every-tokens=16",
        "lethe.worker.checkpoints.every=0s",
        "lethe.worker.checkpoints.breaker.window=2",
        "lethe.worker.checkpoints.breaker.failure-rate=50",
        "lethe.worker.checkpoints.breaker.open-for=1s"})
@EmbeddedKafka(partitions = 2, brokerProperties = {"offsets.topic.num.partitions=2", "group.initial.rebalance.delay.ms=0"})
class CheckpointStoreOutageTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final EventCodec CODEC = new EventCodec();
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String BUCKET = "lethe-outage";
    private static final String PREFIX = "checkpoints";

    private static Path s3Directory;
    private static S3ProxyServer s3;
    private static int s3Port;

    @Value("${spring.embedded.kafka.brokers}")
    String brokers;
    @Autowired
    Model model;
    @Autowired
    KafkaListenerEndpointRegistry listeners;
    @LocalServerPort
    int port;

    private final HttpClient http = HttpClient.newHttpClient();

    /** The S3 server starts before the worker, which is given its address. */
    @DynamicPropertySource
    static void s3Store(DynamicPropertyRegistry registry) throws Exception {
        s3Directory = Files.createTempDirectory("lethe-s3-outage");
        s3 = new S3ProxyServer(s3Directory);
        s3Port = s3.port();
        try (S3Client client = s3.settings().newClient()) {
            client.createBucket(b -> b.bucket(BUCKET));
        }
        registry.add("lethe.worker.checkpoints.store", () -> "s3://" + BUCKET + "/" + PREFIX);
        registry.add("lethe.worker.checkpoints.s3.endpoint", () -> "http://127.0.0.1:" + s3Port);
        registry.add("lethe.worker.checkpoints.s3.access-key-id", () -> S3ProxyServer.ACCESS_KEY);
        registry.add("lethe.worker.checkpoints.s3.secret-access-key", () -> S3ProxyServer.SECRET_KEY);
    }

    @AfterAll
    static void stopS3() throws Exception {
        if (s3 != null) s3.close();
        if (s3Directory != null) {
            try (Stream<Path> files = Files.walk(s3Directory)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    record Case(JobRequest request, SoloRun.Result expected) {}

    @Test
    void checkpointsFailWhileTheStoreIsDownWithoutStoppingTheJobsAndResumeWhenItIsBack() throws Exception {
        ContainerTestUtils.waitForAssignment(listeners.getListenerContainer(BackPressure.REQUESTS_LISTENER), 2);
        int context = model.config().contextLength();
        // Two jobs that complete, and a long one that is still running when the store is back (cancelled at the end).
        List<Case> completing = List.of(
                job("outage-a", "Once upon a time", 300, 0.8, 11L),
                job("outage-b", "Tim and Sue", 300, 0.9, 12L));
        Case long1 = job("outage-long", "The cat", context, 0.8, 99L);
        // Cancelled while the store is down: its blobs cannot be deleted then.
        Case gone = job("outage-gone", "A dog", context, 0.7, 5L);
        assertTrue(long1.expected().ids().size() > 1000, "the long job should be long: " + long1.expected().ids().size());
        for (Case c : completing) assertEquals(300, c.expected().ids().size(), c.request().jobId() + " should run to its limit");
        List<String> all = List.of("outage-a", "outage-b", "outage-long");

        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers),
                new ByteArraySerializer(), new ByteArraySerializer());
             var reader = new TopicReader(brokers, Topics.TOKENS, Topics.JOBS, Topics.CHECKPOINTS)) {
            for (Case c : Stream.concat(completing.stream(), Stream.of(long1, gone)).toList()) {
                producer.send(new ProducerRecord<>(Topics.REQUESTS, key(c.request().jobId()), CODEC.encode(c.request()))).get();
            }

            // 1. Checkpoints reach S3: a manifest for each job.
            var records = reader.awaitUntil(r -> Stream.concat(all.stream(), Stream.of("outage-gone"))
                            .allMatch(id -> !manifests(r, id).isEmpty()), TIMEOUT, "a durable checkpoint of every job");
            Set<String> before = manifests(records, "outage-long").stream().map(CheckpointManifest::checkpointId)
                    .collect(Collectors.toSet());

            // 2. The store goes away mid-job.
            s3.close();
            s3 = null;

            // The long job's state says its checkpoints are failing; the breaker opens and then skips checkpoints.
            reader.awaitUntil(r -> failing(latestStatus(r, "outage-long")), TIMEOUT,
                    "the long job's state to say its checkpoints are failing");
            // Checkpoints are stored one at a time: whatever was stored before this failure is in Kafka by now.
            records = reader.catchUp(TIMEOUT);
            CheckpointStatus failing = latestStatus(records, "outage-long").checkpoints();
            assertTrue(failing.failures() >= 1 && failing.lastError().contains(BUCKET), failing.toString());
            assertEquals(latestManifest(records, "outage-long").lastSeq(), failing.lastCheckpointSeq(),
                    "the newest durable checkpoint is the one written before the outage");
            awaitTrue(() -> metric(prometheus(), "lethe_worker_checkpoints_failed_total", "reason=\"circuit_open\"") > 0,
                    "checkpoints skipped because the circuit is open");
            JsonNode store = awaitHealth("DOWN");
            assertEquals("OPEN", store.at("/details/circuit").asString(), store.toString());
            assertTrue(store.at("/details/lastFailure").asString().contains(BUCKET), store.toString());
            assertTrue(store.at("/details/jobsFailing").asInt() >= 1, store.toString());
            String metrics = prometheus();
            assertTrue(metric(metrics, "lethe_worker_checkpoints_failed_total", "reason=\"store\"") > 0, "no store failure counted");
            assertTrue(metric(metrics, "lethe_worker_checkpoints_failing_jobs", null) >= 1, "no job counted as failing");
            var readiness = get("/actuator/health/readiness");
            assertEquals(200, readiness.statusCode(), "a store outage must not make the worker unready: " + readiness.body());

            // 3. Decoding goes on while the store is down, and no checkpoint becomes durable meanwhile.
            int manifestsWhenDown = manifests(records, "outage-long").size();
            long tokensWhenDown = tokens(records, "outage-long").size();
            records = reader.awaitUntil(r -> tokens(r, "outage-long").size() >= tokensWhenDown + 64, TIMEOUT,
                    "64 more tokens of the long job while the store is down");
            assertEquals(manifestsWhenDown, manifests(records, "outage-long").size(), "a checkpoint became durable with the store down");
            assertFalse(ended(records, "outage-long"), "the long job ended before the store came back");

            // A job that ends while the store is down: its blobs stay there, and wait to be deleted.
            producer.send(new ProducerRecord<>(Topics.CONTROL, key("outage-gone"),
                    CODEC.encode(new Control("outage-gone", Control.Command.CANCEL, "test", Instant.now())))).get();
            reader.awaitUntil(r -> ended(r, "outage-gone"), TIMEOUT, "the job cancelled while the store is down to end");
            awaitTrue(() -> metric(prometheus(), "lethe_worker_checkpoints_deletes_pending", null) >= 1,
                    "the cancelled job's checkpoints to wait for the store");
            assertFalse(blobFiles("outage-gone").isEmpty(), "the cancelled job had no blob in the store to delete");

            // 4. The store comes back on the same port: checkpoints are durable again.
            Instant back = Instant.now();
            s3 = new S3ProxyServer(s3Directory, s3Port);
            records = reader.awaitUntil(r -> manifests(r, "outage-long").stream()
                            .anyMatch(m -> !before.contains(m.checkpointId()) && !m.createdAt().isBefore(back))
                            && !failing(latestStatus(r, "outage-long")), TIMEOUT,
                    "a new durable checkpoint of the long job after the store is back");
            CheckpointManifest after = latestManifest(records, "outage-long");
            assertTrue(after.lastSeq() > failing.lastCheckpointSeq(), "the new checkpoint is newer: " + after);
            assertFalse(ended(records, "outage-long"), "the long job ended before its blob was checked");
            try (S3CheckpointStore check = S3CheckpointStore.create(s3.settings(), BUCKET, PREFIX);
                 InputStream in = check.openVerified(URI.create(after.uri()), after.bytes(), after.sha256())) {
                assertEquals(after.bytes(), in.transferTo(java.io.OutputStream.nullOutputStream()), "the blob's size");
            }
            JobStatus recovered = latestStatus(records, "outage-long");
            assertEquals(CheckpointStatus.State.OK, recovered.checkpoints().state());
            assertEquals(after.lastSeq(), recovered.checkpoints().lastCheckpointSeq());
            assertEquals(JobEvent.Type.CHECKPOINTED, recovered.history().getLast().type());
            store = awaitHealth("UP");
            assertEquals("CLOSED", store.at("/details/circuit").asString(), store.toString());
            // The circuit closed: the cancelled job's blobs are deleted now.
            awaitTrue(() -> metric(prometheus(), "lethe_worker_checkpoints_deletes_pending", null) == 0,
                    "the cancelled job's checkpoints to be deleted once the store is back");
            try (S3CheckpointStore check = S3CheckpointStore.create(s3.settings(), BUCKET, PREFIX)) {
                assertEquals(List.of(), check.list("outage-gone"), "the blobs of the job cancelled during the outage");
            }
            awaitTrue(() -> {
                String m = prometheus();
                return metric(m, "lethe_worker_checkpoints_circuit", "state=\"closed\"") == 1
                        && metric(m, "lethe_worker_checkpoints_failing_jobs", null) == 0;
            }, "the circuit closed and no job failing, in the metrics");

            // 5. Every stream is exact: the completed jobs whole, the long one up to its cancel.
            producer.send(new ProducerRecord<>(Topics.CONTROL, key("outage-long"),
                    CODEC.encode(new Control("outage-long", Control.Command.CANCEL, "test", Instant.now())))).get();
            records = reader.awaitUntil(r -> all.stream().allMatch(id -> ended(r, id) && lastChunkSeen(r, id)), TIMEOUT,
                    "every job to end");
            for (Case c : completing) {
                String id = c.request().jobId();
                assertEquals(c.expected().ids(), ids(tokens(records, id)), id + ": token ids");
                assertEquals(JobState.COMPLETED, latestStatus(records, id).state(), id);
            }
            List<Integer> streamed = ids(tokens(records, "outage-long"));
            assertEquals(long1.expected().ids().subList(0, streamed.size()), streamed, "the long job's stream is the engine's");
            JobStatus cancelled = latestStatus(records, "outage-long");
            assertEquals(JobState.CANCELLED, cancelled.state());
            assertEquals(FinishReason.CANCELLED, cancelled.finishReason());
        }
    }

    private Case job(String jobId, String prompt, int maxTokens, double temperature, long seed) {
        var request = new JobRequest(jobId, "acme", prompt, null, null,
                new Sampling(maxTokens, temperature, 1, 0, 0.0, seed, List.of()), null, 5, Instant.now());
        var expected = SoloRun.run(model, model.tokenizer().encode(prompt, true, false),
                new SamplingParams((float) temperature, 0, 1, 0f, seed, maxTokens, List.of()), PolicySpec.of("lethe"));
        return new Case(request, expected);
    }

    /** The files S3Proxy keeps for a job's blobs (read while the server is down). */
    private static List<Path> blobFiles(String jobId) throws Exception {
        Path dir = s3Directory.resolve(BUCKET).resolve(PREFIX).resolve(jobId);
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".lkv")).toList();
        }
    }

    private static byte[] key(String jobId) {
        return jobId.getBytes(StandardCharsets.UTF_8);
    }

    private static boolean of(ConsumerRecord<byte[], byte[]> r, String topic, String jobId) {
        return r.topic().equals(topic) && r.value() != null && jobId.equals(new String(r.key(), StandardCharsets.UTF_8));
    }

    private static List<CheckpointManifest> manifests(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        return records.stream().filter(r -> of(r, Topics.CHECKPOINTS, jobId))
                .map(r -> CODEC.decode(r.value(), CheckpointManifest.class).orElseThrow()).toList();
    }

    private static CheckpointManifest latestManifest(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        return manifests(records, jobId).getLast();
    }

    private static JobStatus latestStatus(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        List<JobStatus> states = records.stream().filter(r -> of(r, Topics.JOBS, jobId))
                .map(r -> CODEC.decode(r.value(), JobStatus.class).orElseThrow()).toList();
        return states.isEmpty() ? null : states.getLast();
    }

    private static boolean failing(JobStatus status) {
        return status != null && status.checkpoints() != null
                && status.checkpoints().state() == CheckpointStatus.State.FAILING;
    }

    private static boolean ended(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        JobStatus status = latestStatus(records, jobId);
        return status != null && status.state().isFinal();
    }

    private static List<TokenChunk> tokens(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        List<TokenChunk> chunks = records.stream().filter(r -> of(r, Topics.TOKENS, jobId))
                .map(r -> CODEC.decode(r.value(), TokenChunk.class).orElseThrow()).toList();
        long next = 0;
        for (TokenChunk c : chunks) {
            assertEquals(next, c.fromSeq(), jobId + ": a gap or a repeat in its stream");
            next = c.toSeq() + 1;
        }
        return chunks;
    }

    private static boolean lastChunkSeen(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        List<TokenChunk> chunks = tokens(records, jobId);
        return !chunks.isEmpty() && chunks.getLast().finishReason() != null;
    }

    private static List<Integer> ids(List<TokenChunk> chunks) {
        return chunks.stream().flatMap(c -> c.tokenIds().stream()).toList();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private String prometheus() throws Exception {
        var response = get("/actuator/prometheus");
        assertEquals(200, response.statusCode());
        return response.body();
    }

    /** The value of the sample {@code name{...labels containing label...}}, or -1 when there is none. */
    private static double metric(String prometheus, String name, String label) {
        return prometheus.lines()
                .filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
                .filter(l -> label == null || l.substring(0, l.lastIndexOf(' ')).contains(label))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .findFirst().orElse(-1);
    }

    /** Polls {@code /actuator/health} until its {@code checkpointStore} component has {@code status}; returns it. */
    private JsonNode awaitHealth(String status) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        JsonNode component;
        do {
            component = JSON.readTree(get("/actuator/health").body()).at("/components/checkpointStore");
            if (status.equals(component.at("/status").asString())) return component;
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("checkpointStore health never became " + status + "; last: " + component);
    }

    private static void awaitTrue(ThrowingCondition condition, String what) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.test()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(20);
        }
    }

    @FunctionalInterface
    private interface ThrowingCondition {
        boolean test() throws Exception;
    }

}
