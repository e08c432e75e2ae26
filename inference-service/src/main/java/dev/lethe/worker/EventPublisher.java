package dev.lethe.worker;

import dev.lethe.schemas.Event;
import dev.lethe.schemas.EventCodec;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.retry.Retry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.support.SendResult;

/**
 * Writes records to Kafka and waits until the broker has them (the producer is idempotent with acks=all).
 * A batch that fails is retried with exponential backoff, only the records that failed, in their order;
 * a circuit breaker stops the attempts while Kafka keeps failing, so that health checks see it and the
 * broker is not hammered. A write that timed out may still have landed, so a retry can duplicate a
 * record: readers of {@code lethe.tokens} drop chunks whose seqs they have (a seq never changes its token).
 */
final class EventPublisher {
    private final KafkaTemplate<byte[], byte[]> template;
    private final EventCodec codec;
    private final Retry retry;
    private final CircuitBreaker breaker;
    private final Duration sendTimeout;

    EventPublisher(KafkaTemplate<byte[], byte[]> template, EventCodec codec, Retry retry, CircuitBreaker breaker,
                   Duration sendTimeout) {
        this.template = template;
        this.codec = codec;
        this.retry = retry;
        this.breaker = breaker;
        this.sendTimeout = sendTimeout;
    }

    /** The event as a record of the topic, keyed by its job id like every Lethe record. */
    ProducerRecord<byte[], byte[]> record(String topic, Event event) {
        return new ProducerRecord<>(topic, event.jobId().getBytes(StandardCharsets.UTF_8), codec.encode(event));
    }

    /**
     * Writes every record and returns once all are acknowledged.
     *
     * @throws PublishException when some are still not written after the last retry (or the circuit is open)
     */
    void sendAll(List<ProducerRecord<byte[], byte[]>> records) {
        if (records.isEmpty()) return;
        List<ProducerRecord<byte[], byte[]>> remaining = new ArrayList<>(records);
        try {
            retry.executeCheckedSupplier(() -> breaker.executeCheckedSupplier(() -> attempt(remaining)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PublishException(remaining, e);
        } catch (Throwable e) {
            throw new PublishException(remaining, e);
        }
    }

    void send(ProducerRecord<byte[], byte[]> record) {
        sendAll(List.of(record));
    }

    /** One attempt: sends all, waits for all, keeps in {@code remaining} those that failed. */
    private Void attempt(List<ProducerRecord<byte[], byte[]>> remaining) throws Exception {
        List<CompletableFuture<SendResult<byte[], byte[]>>> futures = new ArrayList<>(remaining.size());
        for (ProducerRecord<byte[], byte[]> record : remaining) {
            try {
                futures.add(template.send(record));
            } catch (RuntimeException e) { // metadata not available within max.block.ms, buffer full...
                futures.add(CompletableFuture.failedFuture(e));
            }
        }
        long deadline = System.nanoTime() + sendTimeout.toNanos();
        List<ProducerRecord<byte[], byte[]>> failed = new ArrayList<>();
        Exception firstFailure = null;
        for (int i = 0; i < futures.size(); i++) {
            try {
                futures.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException | TimeoutException e) {
                failed.add(remaining.get(i));
                if (firstFailure == null) firstFailure = e instanceof ExecutionException ee && ee.getCause() instanceof Exception c ? c : e;
            }
        }
        remaining.clear();
        remaining.addAll(failed);
        if (firstFailure != null) throw firstFailure;
        return null;
    }
}
