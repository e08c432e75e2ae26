package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.lethe.schemas.ChatMessage;
import dev.lethe.schemas.DeadLetters;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.KvPolicy;
import dev.lethe.schemas.Sampling;
import dev.lethe.schemas.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Future;
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
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.kafka.test.context.EmbeddedKafka;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * 10,000 random and mutated records on {@code lethe.requests} against the running worker (real broker in this
 * JVM, the stories260K model): every record that is not a valid job request keyed by its job id lands in
 * {@code lethe.dlq}, with its original bytes and position, and no valid one does; afterwards the worker still
 * runs a job to the end and its probes say UP. Whether a record is valid is decided by the schemas' own codec.
 * The DLQ log lines carry the record's key as the MDC field {@code jobId} (a field of its own in JSON logs).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.kafka.bootstrap-servers=${spring.embedded.kafka.brokers}",
        "spring.kafka.producer.properties.linger.ms=0",
        "lethe.worker.model=${lethe.shared.dir}/models/stories260K.gguf",
        "lethe.worker.id=fuzz-worker",
        "lethe.worker.max-active-jobs=8",
        "lethe.worker.queue-capacity=64",
        "lethe.worker.topics.partitions=2",
        "logging.level.org.apache.kafka=WARN"})
@EmbeddedKafka(partitions = 2, brokerProperties = {"offsets.topic.num.partitions=2", "group.initial.rebalance.delay.ms=0"})
class RequestFuzzTest {
    private static final int RECORDS = 10_000;
    private static final Duration TIMEOUT = Duration.ofSeconds(150);
    private static final EventCodec CODEC = new EventCodec();
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final String PALETTE = "{}[]\":,.-+eE0123456789 \\\n\ttrue\u0000\u00e9\uD83D\uDE00nulxyz";

    @Value("${spring.embedded.kafka.brokers}")
    String brokers;
    @LocalServerPort
    int port;

    /** One produced record: its key and value, where it landed, and whether the codec calls it a valid request. */
    private record Sent(byte[] key, byte[] value, boolean valid, Future<RecordMetadata> metadata) {}

    @Test
    void everyInvalidRequestLandsInTheDlqAndTheWorkerKeepsServing() throws Exception {
        Logger listenerLog = (Logger) LoggerFactory.getLogger(RequestListener.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        listenerLog.addAppender(logged);
        long started = System.nanoTime();
        long seed = Long.getLong("lethe.fuzz.seed", System.nanoTime());
        System.out.println("RequestFuzzTest seed " + seed + " (-Dlethe.fuzz.seed=" + seed + " repeats this run)");
        Random random = new Random(seed);
        List<Sent> sent = new ArrayList<>();
        try (var producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers,
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 5),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < RECORDS; i++) {
                JobRequest request = seedRequest(random, i);
                byte[] value = value(random, request);
                byte[] key = key(random, request);
                DecodeResult<JobRequest> decoded = CODEC.decode(value, JobRequest.class);
                boolean valid = decoded instanceof DecodeResult.Valid<JobRequest>(JobRequest r)
                        && key != null && Arrays.equals(key, r.jobId().getBytes(StandardCharsets.UTF_8));
                sent.add(new Sent(key, value, valid, producer.send(new ProducerRecord<>(Topics.REQUESTS, key, value))));
            }
            producer.flush();
        }
        Map<String, Sent> invalidAt = new HashMap<>();
        int valid = 0;
        for (Sent s : sent) {
            RecordMetadata at = s.metadata().get();
            if (s.valid()) valid++;
            else invalidAt.put(at.partition() + "@" + at.offset(), s);
        }
        System.out.printf("RequestFuzzTest: %d records, %d invalid, %d valid, produced after %.1f s%n", RECORDS,
                invalidAt.size(), valid, (System.nanoTime() - started) / 1e9);
        assertTrue(invalidAt.size() > RECORDS / 2 && valid > RECORDS / 50, "the mix should have both kinds");

        // Once the worker has committed every request's offset, it has handled them all: the DLQ is complete.
        awaitRequestsHandled();
        List<ConsumerRecord<byte[], byte[]>> dead;
        try (var reader = new TopicReader(brokers, Topics.DLQ)) {
            dead = reader.awaitUntil(r -> r.size() >= invalidAt.size(), TIMEOUT, invalidAt.size() + " dead letters");
        }
        assertEquals(invalidAt.size(), dead.size(), "dead letters");
        System.out.printf("RequestFuzzTest: all handled after %.1f s%n", (System.nanoTime() - started) / 1e9);
        Map<String, ConsumerRecord<byte[], byte[]>> deadAt = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> letter : dead) {
            assertEquals(Topics.REQUESTS, header(letter, DeadLetters.ORIGINAL_TOPIC));
            String at = header(letter, DeadLetters.ORIGINAL_PARTITION) + "@" + header(letter, DeadLetters.ORIGINAL_OFFSET);
            assertTrue(invalidAt.containsKey(at), "a dead letter for " + at + ", which is a valid request");
            assertNull(deadAt.put(at, letter), "two dead letters for " + at);
            Sent original = invalidAt.get(at);
            assertArrayEquals(original.value(), letter.value(), "the original value of " + at);
            assertArrayEquals(original.key(), letter.key(), "the original key of " + at);
            assertFalse(header(letter, DeadLetters.ERROR_REASON).isBlank());
            assertNotNull(header(letter, DeadLetters.ERROR_CLASS));
        }
        assertEquals(invalidAt.keySet(), deadAt.keySet(), "every invalid record, and only those, in the DLQ");

        // Still serving: a new job runs to its end, and the probes are up.
        JobRequest after = new JobRequest("after-fuzz", "acme", "Once upon a time", null, null,
                new Sampling(20, 0, 1, 0, 0, null, List.of()), null, 5, Instant.now());
        try (var producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers),
                new ByteArraySerializer(), new ByteArraySerializer());
             var reader = new TopicReader(brokers, Topics.JOBS)) {
            producer.send(new ProducerRecord<>(Topics.REQUESTS, after.jobId().getBytes(StandardCharsets.UTF_8),
                    CODEC.encode(after))).get();
            reader.awaitUntil(r -> r.stream().anyMatch(x -> "after-fuzz".equals(new String(x.key(), StandardCharsets.UTF_8))
                    && CODEC.decode(x.value(), JobStatus.class).orElseThrow().state() == JobState.COMPLETED),
                    TIMEOUT, "after-fuzz to complete");
        }
        HttpClient http = HttpClient.newHttpClient();
        for (String probe : List.of("liveness", "readiness")) {
            var response = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/health/" + probe))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), probe + ": " + response.body());
            JsonNode health = JSON.readTree(response.body());
            assertEquals("UP", health.get("status").stringValue(), response.body());
            if (probe.equals("readiness")) {
                assertEquals("UP", health.at("/components/kafka/status").stringValue(), response.body());
                assertEquals("UP", health.at("/components/workerHealth/status").stringValue(), response.body());
            } else {
                assertEquals("running", health.at("/components/engine/details/decodeThread").stringValue(), response.body());
            }
        }

        // Each DLQ log line carries the record's key (cut to 128 characters) as the MDC's jobId.
        listenerLog.detachAppender(logged);
        Map<String, ILoggingEvent> lineAt = new HashMap<>();
        for (ILoggingEvent event : logged.list) {
            var at = java.util.regex.Pattern.compile("^request lethe\\.requests-(\\d+@\\d+) sent to lethe\\.dlq")
                    .matcher(event.getFormattedMessage());
            if (at.find()) lineAt.put(at.group(1), event);
        }
        assertEquals(deadAt.keySet(), lineAt.keySet(), "one log line per dead letter");
        deadAt.forEach((at, letter) -> {
            String key = letter.key() == null ? null : new String(letter.key(), StandardCharsets.UTF_8);
            String expected = key == null ? null : key.substring(0, Math.min(key.length(), JobIdMdc.MAX_LENGTH));
            assertEquals(expected, lineAt.get(at).getMDCPropertyMap().get(JobIdMdc.KEY), "jobId of the line for " + at);
        });
    }

    // ---- records: valid requests, mutated structurally or byte by byte, or random; keys right, wrong or absent ----

    private static JobRequest seedRequest(Random random, int i) {
        String id = "fz-" + i;
        Sampling sampling = new Sampling(1 + random.nextInt(2), 0, 1, 0, 0, random.nextBoolean() ? null : (long) random.nextInt(100),
                List.of());
        KvPolicy policy = random.nextInt(4) == 0 ? new KvPolicy("lethe", Map.of()) : null;
        if (random.nextInt(4) == 0) {
            return new JobRequest(id, "acme", null, List.of(new ChatMessage(ChatMessage.Role.USER, "hi")), null, sampling,
                    policy, random.nextInt(10), Instant.now());
        }
        return new JobRequest(id, "acme", random.nextBoolean() ? "Once upon a time" : "Tim", null, null, sampling, policy,
                random.nextInt(10), Instant.now());
    }

    private static byte[] value(Random random, JobRequest request) {
        byte[] encoded = CODEC.encode(request);
        // Mostly invalid: a valid request costs the worker a job (a few Kafka writes and a decode step), and a
        // few hundred of them show as well as thousands that valid ones are taken and not dead-lettered.
        return switch (random.nextInt(25)) {
            case 0 -> null;
            case 1 -> new byte[0];
            case 2, 3, 4 -> randomBytes(random);
            case 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 -> mutateBytes(random, encoded);
            case 15, 16, 17, 18, 19, 20, 21, 22, 23 -> mutateFields(random, encoded);
            default -> encoded;
        };
    }

    private static byte[] key(Random random, JobRequest request) {
        return switch (random.nextInt(25)) {
            case 0 -> null;
            case 1 -> "someone-else".getBytes(StandardCharsets.UTF_8);
            case 2 -> randomBytes(random);
            default -> request.jobId().getBytes(StandardCharsets.UTF_8);
        };
    }

    private static final List<String> FIELDS = List.of("schema", "jobId", "tenant", "prompt", "messages", "model",
            "sampling", "kvPolicy", "priority", "createdAt", "maxTokens", "temperature", "topP", "seed", "stop", "extra");

    private static byte[] mutateFields(Random random, byte[] encoded) {
        ObjectNode json = (ObjectNode) JSON.readTree(encoded);
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            String field = FIELDS.get(random.nextInt(FIELDS.size()));
            ObjectNode target = json.get("sampling") instanceof ObjectNode sampling && random.nextInt(3) == 0 ? sampling : json;
            if (random.nextInt(4) == 0) target.remove(field);
            else target.set(field, randomValue(random, 0));
        }
        return JSON.writeValueAsBytes(json);
    }

    private static JsonNode randomValue(Random random, int depth) {
        return switch (depth > 2 ? random.nextInt(6) : random.nextInt(8)) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(random.nextBoolean());
            case 2 -> NODES.numberNode(random.nextInt(21) - 5);
            case 3 -> NODES.numberNode(random.nextBoolean() ? Long.MAX_VALUE : random.nextGaussian() * 1e9);
            case 4 -> NODES.stringNode(randomText(random, random.nextInt(20)));
            case 5 -> NODES.stringNode(random.nextBoolean() ? "lethe.job-request/v1" : "2026-01-01T00:00:00Z");
            case 6 -> {
                var array = NODES.arrayNode();
                for (int i = random.nextInt(3); i > 0; i--) array.add(randomValue(random, depth + 1));
                yield array;
            }
            default -> {
                ObjectNode object = NODES.objectNode();
                for (int i = random.nextInt(3); i > 0; i--) {
                    object.set(FIELDS.get(random.nextInt(FIELDS.size())), randomValue(random, depth + 1));
                }
                yield object;
            }
        };
    }

    private static byte[] mutateBytes(Random random, byte[] encoded) {
        StringBuilder text = new StringBuilder(new String(encoded, StandardCharsets.UTF_8));
        for (int m = 1 + random.nextInt(3); m > 0 && !text.isEmpty(); m--) {
            int at = random.nextInt(text.length());
            switch (random.nextInt(5)) {
                case 0 -> text.deleteCharAt(at);
                case 1 -> text.insert(at, PALETTE.charAt(random.nextInt(PALETTE.length())));
                case 2 -> text.setCharAt(at, PALETTE.charAt(random.nextInt(PALETTE.length())));
                case 3 -> text.setLength(at);
                default -> text.insert(at, text.substring(at, Math.min(text.length(), at + random.nextInt(16))));
            }
        }
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] randomBytes(Random random) {
        byte[] bytes = new byte[1 + random.nextInt(120)];
        random.nextBytes(bytes);
        return bytes;
    }

    private static String randomText(Random random, int length) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < length; i++) {
            text.append(random.nextInt(8) == 0 ? PALETTE.charAt(random.nextInt(PALETTE.length())) : (char) ('a' + random.nextInt(26)));
        }
        return text.toString();
    }

    private void awaitRequestsHandled() throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers))) {
            while (true) {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets("lethe-workers")
                        .partitionsToOffsetAndMetadata().get();
                Map<TopicPartition, OffsetSpec> ask = new HashMap<>();
                for (int p = 0; p < 2; p++) ask.put(new TopicPartition(Topics.REQUESTS, p), OffsetSpec.latest());
                var ends = admin.listOffsets(ask).all().get();
                boolean all = ask.keySet().stream().allMatch(tp -> committed.get(tp) != null
                        && committed.get(tp).offset() == ends.get(tp).offset());
                if (all) return;
                if (System.nanoTime() > deadline) throw new AssertionError("requests not all handled: " + committed + " vs " + ends);
                Thread.sleep(200);
            }
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header h = record.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
