package dev.lethe.worker;

import dev.lethe.cache.KvCacheListener;
import dev.lethe.engine.scheduler.ContinuousBatchScheduler;
import dev.lethe.engine.scheduler.JobOutcome;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The worker's meters (Prometheus names in brackets):
 * generated tokens [{@code lethe_worker_tokens_generated_total}, its rate is tokens/s];
 * queued and active jobs [{@code lethe_worker_jobs_queued}, {@code lethe_worker_jobs_active}];
 * KV bytes the active jobs retain and what full caches would hold [{@code lethe_worker_kv_retained_bytes},
 * {@code lethe_worker_kv_full_bytes}]; pruning rounds run and deferred
 * [{@code lethe_worker_kv_pruning_rounds_total}, {@code lethe_worker_kv_pruning_deferred_total}];
 * jobs ended by outcome; requests sent to the DLQ by failure kind; token chunks; failed writes;
 * whether request consumption is paused for back-pressure, and how often it paused;
 * checkpoints made durable [{@code lethe_worker_checkpoints_stored_total}], checkpoints that were not, by the step
 * that failed [{@code lethe_worker_checkpoints_failed_total{reason="store|circuit_open|manifest"}}], checkpoints
 * skipped before they were serialised, because the circuit is open or the job's previous checkpoint is still being
 * stored [{@code lethe_worker_checkpoints_skipped_total{reason="circuit_open|in_flight"}}] (the circuit_open ones
 * are also failures), owned jobs whose latest checkpoint attempt failed
 * [{@code lethe_worker_checkpoints_failing_jobs}], the state of the circuit breaker around the checkpoint store,
 * 1 for the current one [{@code lethe_worker_checkpoints_circuit{state="closed|open|half_open"}}], ended jobs whose
 * checkpoints wait for the store to be deleted [{@code lethe_worker_checkpoints_deletes_pending}], and those dropped
 * from that wait for its bound, their blobs left in the store [{@code lethe_worker_checkpoints_deletes_dropped_total}].
 */
final class WorkerMetrics {
    private final MeterRegistry registry;
    private final Counter tokens;
    private final Counter pruningRounds;
    private final Counter pruningDeferred;
    private final Counter chunks;
    private final Counter publishFailures;
    private final Counter pauses;
    private final Counter checkpointsStored;
    private final Counter deletesDropped;
    private final Map<SkipReason, Counter> checkpointsSkipped = new EnumMap<>(SkipReason.class);
    private final Map<JobOutcome.Ending, Counter> finished = new EnumMap<>(JobOutcome.Ending.class);
    private final Map<CheckpointFailedException.Reason, Counter> checkpointsFailed =
            new EnumMap<>(CheckpointFailedException.Reason.class);

    /** Why a checkpoint was skipped before it was serialised (a tag of its metric). */
    enum SkipReason {
        /** The circuit breaker around the store is open (or its half-open probe is taken). */
        CIRCUIT_OPEN,
        /** The job's previous checkpoint is still being stored. */
        IN_FLIGHT;

        String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    WorkerMetrics(MeterRegistry registry) {
        this.registry = registry;
        tokens = Counter.builder("lethe.worker.tokens.generated").description("Tokens generated").register(registry);
        pruningRounds = Counter.builder("lethe.worker.kv.pruning.rounds")
                .description("KV pruning rounds that evicted tokens, summed over layers").register(registry);
        pruningDeferred = Counter.builder("lethe.worker.kv.pruning.deferred")
                .description("KV pruning rounds deferred (no attention breakpoint), summed over layers").register(registry);
        chunks = Counter.builder("lethe.worker.token.chunks").description("Token chunks produced").register(registry);
        publishFailures = Counter.builder("lethe.worker.publish.failures")
                .description("Batches of Kafka writes that failed after every retry").register(registry);
        pauses = Counter.builder("lethe.worker.requests.pauses")
                .description("Times request consumption paused because the job queue was full").register(registry);
        checkpointsStored = Counter.builder("lethe.worker.checkpoints.stored")
                .description("Checkpoints made durable: blob in the store, manifest on lethe.checkpoints").register(registry);
        // Registered up front, so that a failure rate can be computed before the first failure.
        for (CheckpointFailedException.Reason reason : CheckpointFailedException.Reason.values()) {
            checkpointsFailed.put(reason, Counter.builder("lethe.worker.checkpoints.failed").tag("reason", reason.tag())
                    .description("Checkpoints that did not become durable, by the step that failed").register(registry));
        }
        for (SkipReason reason : SkipReason.values()) {
            checkpointsSkipped.put(reason, Counter.builder("lethe.worker.checkpoints.skipped").tag("reason", reason.tag())
                    .description("Checkpoints skipped before they were serialised, by why").register(registry));
        }
        deletesDropped = Counter.builder("lethe.worker.checkpoints.deletes.dropped")
                .description("Ended jobs whose checkpoints were left in the store: too many waited for it to be deleted")
                .register(registry);
        for (JobOutcome.Ending ending : JobOutcome.Ending.values()) {
            finished.put(ending, Counter.builder("lethe.worker.jobs.finished")
                    .tag("outcome", ending.name().toLowerCase(Locale.ROOT)).register(registry));
        }
    }

    /** Gauges that read the scheduler's latest snapshot (written by the decode thread after each step). */
    void watch(ContinuousBatchScheduler scheduler, BooleanSupplier paused) {
        Gauge.builder("lethe.worker.jobs.queued", () -> scheduler.snapshot().queued()).register(registry);
        Gauge.builder("lethe.worker.jobs.active", () -> scheduler.snapshot().active()).register(registry);
        Gauge.builder("lethe.worker.kv.retained", () -> scheduler.snapshot().kvBytesRetained()).baseUnit("bytes")
                .description("KV bytes the active jobs' caches retain").register(registry);
        Gauge.builder("lethe.worker.kv.full", () -> scheduler.snapshot().kvBytesFull()).baseUnit("bytes")
                .description("KV bytes full caches would hold for the same jobs").register(registry);
        Gauge.builder("lethe.worker.requests.paused", () -> paused.getAsBoolean() ? 1 : 0)
                .description("1 while request consumption is paused because the queue is full").register(registry);
    }

    /** 1 while decoding holds back because records wait unwritten (Kafka down or slow). */
    void watchPublisher(BooleanSupplier backlogged) {
        Gauge.builder("lethe.worker.publish.backlogged", () -> backlogged.getAsBoolean() ? 1 : 0)
                .description("1 while decoding holds back because too many records wait to be written to Kafka").register(registry);
    }

    /**
     * Gauges of checkpointing: the breaker's state, the owned jobs whose checkpoints are failing, and the ended jobs
     * whose checkpoints wait to be deleted.
     */
    void watchCheckpoints(Supplier<CircuitBreaker.State> circuit, IntSupplier failingJobs, IntSupplier pendingDeletes) {
        Gauge.builder("lethe.worker.checkpoints.failing.jobs", failingJobs::getAsInt)
                .description("Owned jobs whose latest checkpoint attempt failed").register(registry);
        Gauge.builder("lethe.worker.checkpoints.deletes.pending", pendingDeletes::getAsInt)
                .description("Ended jobs whose checkpoints wait for the store to be deleted").register(registry);
        for (CircuitBreaker.State state : List.of(CircuitBreaker.State.CLOSED, CircuitBreaker.State.OPEN,
                CircuitBreaker.State.HALF_OPEN)) {
            Gauge.builder("lethe.worker.checkpoints.circuit", () -> circuit.get() == state ? 1 : 0)
                    .tag("state", state.name().toLowerCase(Locale.ROOT))
                    .description("1 for the current state of the circuit breaker around the checkpoint store").register(registry);
        }
    }

    /** Counts the pruning rounds of every cache it is attached to. */
    KvCacheListener cacheListener() {
        return new KvCacheListener() {
            @Override
            public void roundRun(long step, int layer, int before, int after) {
                pruningRounds.increment();
            }

            @Override
            public void roundDeferred(long step, int layer, int length) {
                pruningDeferred.increment();
            }
        };
    }

    void tokenGenerated() {
        tokens.increment();
    }

    void jobFinished(JobOutcome.Ending ending) {
        finished.get(ending).increment();
    }

    void deadLettered(String kind) {
        Counter.builder("lethe.worker.requests.dead.lettered").tag("kind", kind).register(registry).increment();
    }

    void chunksProduced(int n) {
        if (n > 0) chunks.increment(n);
    }

    void requestsPaused() {
        pauses.increment();
    }

    void checkpointStored() {
        checkpointsStored.increment();
    }

    void checkpointFailed(CheckpointFailedException.Reason reason) {
        checkpointsFailed.get(reason).increment();
    }

    void checkpointSkipped(SkipReason reason) {
        checkpointsSkipped.get(reason).increment();
    }

    void deletesDropped() {
        deletesDropped.increment();
    }

    void publishFailed() {
        publishFailures.increment();
    }
}
