package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.springframework.kafka.core.KafkaTemplate;

/** The publisher against a producer that fails on demand (Kafka's MockProducer): what waits, and when it says so. */
class StreamPublisherTest {
    private static final EventCodec CODEC = new EventCodec();

    @Test
    void whileKafkaIsDownTheBacklogIsReportedAndNothingIsLostWhenItReturns() throws Exception {
        // KafkaTemplate closes what a plain factory gives it after each send; the real factory's producers ignore that.
        MockProducer<byte[], byte[]> producer = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer()) {
            @Override
            public void close() {
            }

            @Override
            public void close(Duration timeout) {
            }
        };
        producer.sendException = new KafkaException("the broker is down");
        var events = new EventPublisher(new KafkaTemplate<>(() -> producer), CODEC,
                Retry.of("test", RetryConfig.custom().maxAttempts(1).build()), CircuitBreaker.of("test", CircuitBreakerConfig.custom()
                        .waitDurationInOpenState(Duration.ofMillis(50)).build()),
                Duration.ofMillis(200));
        int maxBacklog = 8;
        try (var publisher = new StreamPublisher(events, new WorkerMetrics(new SimpleMeterRegistry()), Clock.systemUTC(),
                new WorkerProperties.Chunk(Duration.ofMillis(5), 4), maxBacklog, tracker -> {})) {
            publisher.start();
            JobStream stream = publisher.open(new JobTracker("job-1", "acme", "w1", Clock.systemUTC()), new int[0],
                    JobStream.Hooks.NONE);
            stream.onStarted(3);
            for (int seq = 0; seq < 60; seq++) stream.onToken(seq, 100 + seq, "t" + seq + " ");
            // 60 tokens in chunks of 4 and a status: more than the backlog may hold.
            await(publisher::backlogged, "the publisher to report its backlog");
            assertTrue(producer.history().isEmpty());

            producer.sendException = null;
            stream.onFinished(new JobOutcome(JobOutcome.Ending.LENGTH, 3, 60, "", null));
            await(() -> !publisher.backlogged() && finalStateWritten(producer), "the backlog to be written");
        }
        List<Integer> ids = new ArrayList<>();
        long next = 0;
        for (ProducerRecord<byte[], byte[]> r : producer.history()) {
            if (!r.topic().equals(Topics.TOKENS)) continue;
            TokenChunk chunk = ((DecodeResult.Valid<TokenChunk>) CODEC.decode(r.value(), TokenChunk.class)).event();
            assertEquals(next, chunk.fromSeq(), "chunks in order, none lost or repeated");
            ids.addAll(chunk.tokenIds());
            next = chunk.toSeq() + 1;
        }
        assertEquals(60, ids.size());
        for (int i = 0; i < 60; i++) assertEquals(100 + i, ids.get(i));
        assertFalse(producer.history().stream().anyMatch(r -> r.topic().equals(Topics.DLQ)));
    }

    private static boolean finalStateWritten(MockProducer<byte[], byte[]> producer) {
        return producer.history().stream().anyMatch(r -> r.topic().equals(Topics.JOBS)
                && new String(r.value(), java.nio.charset.StandardCharsets.UTF_8).contains("\"COMPLETED\""));
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(10);
        }
    }
}
