package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.scheduler.TakenCheckpoint;
import dev.lethe.engine.testutil.SharedFiles;
import dev.lethe.schemas.EventCodec;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.kafka.core.KafkaTemplate;

/**
 * Checkpoints against a store that fails on demand (no broker: manifests go to Kafka's MockProducer): the circuit
 * breaker is asked before a checkpoint is serialised, so none is while it is open and exactly the probe is while it
 * is half-open; blobs of jobs that ended while the store was down are deleted once it is back, never a newer blob of
 * the same job, and at most a bounded number of jobs wait for that.
 */
class CheckpointsTest {
    private static final PolicySpec POLICY = PolicySpec.of("lethe");
    private static Model model;

    private final FlakyStore store = new FlakyStore();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    /** The breaker the worker builds, opened by 2 failures of the latest 2 writes; its open wait ends only when a test says. */
    private final CircuitBreaker breaker = WorkerConfiguration.checkpointBreaker(
            new WorkerProperties.Breaker(50, 2, Duration.ofHours(1)));
    private long seq;

    @BeforeAll
    static void load() {
        model = Model.load(SharedFiles.storiesModel());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private Checkpoints checkpoints(int maxPendingDeletes) {
        // KafkaTemplate closes what a plain factory gives it after each send; the real factory's producers ignore that.
        MockProducer<byte[], byte[]> producer = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer()) {
            @Override
            public void close() {
            }

            @Override
            public void close(Duration timeout) {
            }
        };
        var events = new EventPublisher(new KafkaTemplate<>(() -> producer), new EventCodec(),
                Retry.of("test", RetryConfig.custom().maxAttempts(1).build()),
                CircuitBreaker.of("test-publish", CircuitBreakerConfig.ofDefaults()), Duration.ofSeconds(5));
        var metrics = new WorkerMetrics(registry);
        var checkpoints = new Checkpoints(store, breaker, events, model, metrics, "w1", Clock.systemUTC(), maxPendingDeletes);
        metrics.watchCheckpoints(checkpoints::circuit, () -> 0, checkpoints::pendingDeletes);
        return checkpoints;
    }

    private TakenCheckpoint taken() {
        seq += 16;
        return new TakenCheckpoint(seq, ("blob at " + seq).getBytes(StandardCharsets.UTF_8), 100, 200, 1_000);
    }

    /** What the worker does with a checkpoint due: admit it, then (it would be serialised here) store it. */
    private Checkpoints.Stored checkpoint(Checkpoints checkpoints, String jobId) throws CheckpointFailedException {
        checkpoints.admit();
        return checkpoints.store(jobId, POLICY, taken());
    }

    private double count(String name, String reason) {
        var search = registry.find(name);
        if (reason != null) search = search.tag("reason", reason);
        return search.counter().count();
    }

    private double gauge(String name) {
        return registry.get(name).gauge().value();
    }

    /** Fails checkpoints of {@code jobId} until the circuit opens (at most 2: its window); returns how many failed. */
    private int openCircuit(Checkpoints checkpoints, String jobId) {
        store.down = true;
        int failed = 0;
        while (breaker.getState() != CircuitBreaker.State.OPEN) {
            var e = assertThrows(CheckpointFailedException.class, () -> checkpoint(checkpoints, jobId));
            assertEquals(CheckpointFailedException.Reason.STORE, e.reason());
            assertTrue(++failed <= 2, "the circuit did not open after 2 failed writes");
        }
        return failed;
    }

    @Test
    void whileTheCircuitIsOpenNothingIsAdmittedAndWhenHalfOpenExactlyTheProbeIs() throws Exception {
        Checkpoints checkpoints = checkpoints(100);
        checkpoint(checkpoints, "job-a");
        int storeFailures = openCircuit(checkpoints, "job-a");
        int puts = store.puts.get();

        for (int i = 0; i < 10; i++) {
            var e = assertThrows(CheckpointFailedException.class, checkpoints::admit);
            assertEquals(CheckpointFailedException.Reason.CIRCUIT_OPEN, e.reason());
        }
        assertEquals(10, count("lethe.worker.checkpoints.skipped", "circuit_open"));
        assertEquals(10, count("lethe.worker.checkpoints.failed", "circuit_open"));
        assertEquals(storeFailures, count("lethe.worker.checkpoints.failed", "store"));
        assertEquals(puts, store.puts.get(), "the store was called while the circuit was open");
        assertEquals(CheckpointFailedException.Reason.CIRCUIT_OPEN, checkpoints.lastFailure().reason());

        // The open wait is over: one checkpoint is the probe, those due meanwhile are skipped.
        breaker.transitionToHalfOpenState();
        checkpoints.admit();
        for (int i = 0; i < 3; i++) assertThrows(CheckpointFailedException.class, checkpoints::admit, "a second probe");
        assertEquals(13, count("lethe.worker.checkpoints.skipped", "circuit_open"));
        store.down = false;
        checkpoints.store("job-a", POLICY, taken());
        assertEquals(CircuitBreaker.State.CLOSED, breaker.getState(), "the probe was stored: the circuit closes");
        assertEquals(puts + 1, store.puts.get(), "exactly the probe reached the store");
        for (int i = 0; i < 3; i++) checkpoint(checkpoints, "job-a");
        assertEquals(13, count("lethe.worker.checkpoints.skipped", "circuit_open"));
    }

    @Test
    void aProbeThatIsNotStoredGivesItsTurnBack() throws Exception {
        Checkpoints checkpoints = checkpoints(100);
        openCircuit(checkpoints, "job-a");
        breaker.transitionToHalfOpenState();
        checkpoints.admit();
        assertThrows(CheckpointFailedException.class, checkpoints::admit);
        // Its serialisation failed, or its job went away: the next checkpoint probes instead.
        checkpoints.release();
        checkpoints.admit();
        store.down = false;
        checkpoints.store("job-a", POLICY, taken());
        assertEquals(CircuitBreaker.State.CLOSED, breaker.getState());
    }

    @Test
    void blobsOfAJobEndedWhileTheStoreWasDownAreDeletedWhenItIsBackButNotANewerBlobOfTheJob() throws Exception {
        Checkpoints checkpoints = checkpoints(100);
        AtomicInteger storeBack = new AtomicInteger();
        checkpoints.onStoreBack(() -> {
            storeBack.incrementAndGet();
            checkpoints.retryDeletes(); // the worker hands this to its checkpoint thread
        });
        checkpoint(checkpoints, "job-x");
        String newestOfX = checkpoint(checkpoints, "job-x").manifest().checkpointId();
        assertEquals(List.of(newestOfX), store.ids("job-x"), "a newer checkpoint deletes the older");
        String ofY = checkpoint(checkpoints, "job-y").manifest().checkpointId();

        openCircuit(checkpoints, "job-y");
        checkpoints.deleteAll("job-x", newestOfX);
        assertEquals(1, checkpoints.pendingDeletes());
        checkpoints.retryDeletes();
        assertEquals(1, checkpoints.pendingDeletes(), "nothing is tried while the circuit is open");
        assertEquals(List.of(newestOfX), store.ids("job-x"));

        // The store is back. Before this worker notices, the job runs again elsewhere and stores a newer checkpoint
        // (here straight into the store, as another worker would).
        store.down = false;
        int deletes = store.deletes.get();
        checkpoints.retryDeletes();
        assertEquals(deletes, store.deletes.get(), "deletions were retried while the circuit was still open");
        store.put("job-x", "ck-999999999-w2-abcdef", out -> out.write(1));

        breaker.transitionToHalfOpenState();
        checkpoint(checkpoints, "job-y"); // the probe: the circuit closes, and pending deletions are retried
        assertEquals(1, storeBack.get());
        assertEquals(0, checkpoints.pendingDeletes());
        assertEquals(0, gauge("lethe.worker.checkpoints.deletes.pending"));
        assertEquals(List.of("ck-999999999-w2-abcdef"), store.ids("job-x"), "only the ended run's blob is deleted");
        assertTrue(store.ids("job-y").size() == 1 && !store.ids("job-y").contains(ofY), "job-y keeps its newest: " + store.ids("job-y"));
    }

    @Test
    void atMostTheBoundOfEndedJobsWaitAndTheOldestIsDroppedAndCounted() throws Exception {
        Checkpoints checkpoints = checkpoints(2);
        for (String job : List.of("job-1", "job-2", "job-3")) checkpoint(checkpoints, job);
        store.down = true;
        for (String job : List.of("job-1", "job-2", "job-3")) checkpoints.deleteAll(job, null);
        assertEquals(2, checkpoints.pendingDeletes());
        assertEquals(2, gauge("lethe.worker.checkpoints.deletes.pending"));
        assertEquals(1, count("lethe.worker.checkpoints.deletes.dropped", null));

        store.down = false;
        assertEquals(CircuitBreaker.State.CLOSED, breaker.getState(), "deletions do not count in the breaker");
        checkpoints.retryDeletes();
        assertEquals(0, checkpoints.pendingDeletes());
        assertEquals(1, store.ids("job-1").size(), "the dropped job's blob stays");
        assertTrue(store.ids("job-2").isEmpty());
        assertTrue(store.ids("job-3").isEmpty());
    }

    @Test
    void aJobWhoseBlobsAreDeletedLaterIsNoLongerPending() throws Exception {
        Checkpoints checkpoints = checkpoints(10);
        checkpoint(checkpoints, "job-1");
        store.down = true;
        checkpoints.deleteAll("job-1", null);
        assertEquals(1, checkpoints.pendingDeletes());
        store.down = false;
        // A take-over reads the job's final state and deletes its blobs again (every one: the job is over).
        checkpoints.deleteAll("job-1", null);
        assertEquals(0, checkpoints.pendingDeletes());
        assertTrue(store.ids("job-1").isEmpty());
    }
}
