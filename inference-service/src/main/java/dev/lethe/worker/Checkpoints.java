package dev.lethe.worker;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCacheListener;
import dev.lethe.cache.checkpoint.CheckpointCodec;
import dev.lethe.cache.checkpoint.RestoredCheckpoint;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.scheduler.CheckpointSource;
import dev.lethe.engine.scheduler.TakenCheckpoint;
import dev.lethe.schemas.CheckpointManifest;
import dev.lethe.schemas.KvLayout;
import dev.lethe.schemas.Topics;
import dev.lethe.store.CheckpointStore;
import dev.lethe.store.CheckpointStoreException;
import dev.lethe.store.StoredCheckpoint;
import dev.lethe.worker.CheckpointFailedException.Reason;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints as the claim check of DESIGN §4: the blob goes to the {@link CheckpointStore}, the manifest to the
 * compacted {@code lethe.checkpoints}. A newer checkpoint made durable deletes the older blobs of its job; a job
 * that ended has all of its blobs deleted and a tombstone written for its manifest.
 *
 * <p>Blob writes go through a circuit breaker: when the store keeps failing, checkpoints are skipped at once
 * (the jobs keep decoding, and nothing waits on a dead store) until the breaker lets one through to try it again.
 * The breaker is asked before a checkpoint is serialised ({@link #admit}), so that a skipped one costs the decode
 * thread nothing; an admitted checkpoint ends in {@link #store} or {@link #release}.
 *
 * <p>The blobs of a job that ended while the store was down wait in {@link PendingDeletes} and are deleted once
 * it is back: when the circuit closes, and every {@code retry-deletes-every} ({@link #retryDeletes}).
 */
final class Checkpoints {
    private static final Logger log = LoggerFactory.getLogger(Checkpoints.class);

    /** What storing a checkpoint produced: the manifest written, and the record for the job's history. */
    record Stored(CheckpointManifest manifest, CheckpointRecord record) {}

    /** The latest checkpoint that did not become durable: when, and why. */
    record Failure(Instant at, Reason reason, String message) {}

    private final CheckpointStore store;
    private final CircuitBreaker breaker;
    private final EventPublisher events;
    private final Model model;
    private final KvCacheListener cacheListener;
    private final WorkerMetrics metrics;
    private final String workerId;
    private final Clock clock;
    private volatile Failure lastFailure;
    private volatile Instant lastStored;
    private volatile Instant circuitSince;
    /** Per job, the ids of its blobs this worker stored that are not known to be deleted. */
    private final Map<String, Set<String>> blobsOf = new ConcurrentHashMap<>();
    private final PendingDeletes pendingDeletes;
    private volatile Runnable onStoreBack = () -> { };

    /** @param maxPendingDeletes how many ended jobs may wait for the store to delete their blobs */
    Checkpoints(CheckpointStore store, CircuitBreaker breaker, EventPublisher events, Model model, WorkerMetrics metrics,
                String workerId, Clock clock, int maxPendingDeletes) {
        this.store = store;
        this.breaker = breaker;
        this.events = events;
        this.model = model;
        this.cacheListener = metrics.cacheListener();
        this.metrics = metrics;
        this.workerId = workerId;
        this.clock = clock;
        this.circuitSince = clock.instant();
        this.pendingDeletes = new PendingDeletes(maxPendingDeletes, metrics::deletesDropped);
        breaker.getEventPublisher().onStateTransition(event -> {
            circuitSince = clock.instant();
            var to = event.getStateTransition().getToState();
            if (to == CircuitBreaker.State.OPEN) {
                log.warn("checkpoint store {} keeps failing ({}% of the latest writes): circuit open, checkpoints are skipped for {} ms",
                        store.describe(), breaker.getMetrics().getFailureRate(), openForMillis());
            } else {
                log.info("checkpoint store {}: circuit {}", store.describe(), event.getStateTransition());
            }
            if (to == CircuitBreaker.State.CLOSED) onStoreBack.run();
        });
    }

    /**
     * What to run when the circuit closes (the store is back): hand {@link #retryDeletes} to the thread that does
     * checkpoint work. Runs on the thread whose write closed the circuit, so it must not block.
     */
    void onStoreBack(Runnable action) {
        this.onStoreBack = action;
    }

    String describe() {
        return store.describe();
    }

    CircuitBreaker.State circuit() {
        return breaker.getState();
    }

    /** When the circuit last changed state (or when this worker started). */
    Instant circuitSince() {
        return circuitSince;
    }

    CircuitBreaker.Metrics circuitMetrics() {
        return breaker.getMetrics();
    }

    /** How long an open circuit skips checkpoints before it lets one try the store again. */
    long openForMillis() {
        return breaker.getCircuitBreakerConfig().getWaitIntervalFunctionInOpenState().apply(1);
    }

    /** The latest checkpoint that failed, or null if none has. */
    Failure lastFailure() {
        return lastFailure;
    }

    /** When the latest checkpoint became durable, or null if none has. */
    Instant lastStored() {
        return lastStored;
    }

    /**
     * Whether a checkpoint may be serialised now, as the circuit breaker says: always while it is closed, never while
     * it is open, and for as many as it probes with while it is half-open (the first checkpoint after the open wait
     * turns it half-open and is the probe). Admitted, the checkpoint holds one of the breaker's calls until it ends
     * in {@link #store} or {@link #release}. Called on the decode thread: it only asks the breaker.
     *
     * @throws CheckpointFailedException reason {@code CIRCUIT_OPEN} (counted as a failure and a skip) when not admitted
     */
    void admit() throws CheckpointFailedException {
        if (breaker.tryAcquirePermission()) return;
        metrics.checkpointSkipped(WorkerMetrics.SkipReason.CIRCUIT_OPEN);
        throw failed(Reason.CIRCUIT_OPEN, "checkpoint not taken: the checkpoint store " + store.describe()
                + " keeps failing (circuit " + breaker.getState() + " since " + circuitSince + ")", null);
    }

    /** A checkpoint skipped, not serialised, because its job's previous one is still being stored. */
    void skippedInFlight() {
        metrics.checkpointSkipped(WorkerMetrics.SkipReason.IN_FLIGHT);
    }

    /** An admitted checkpoint that will not be stored (it could not be serialised, or its job is gone). */
    void release() {
        breaker.releasePermission();
    }

    /**
     * Puts the blob of a checkpoint {@link #admit admitted} by the circuit breaker (its outcome goes back to the
     * breaker), writes the manifest (acknowledged), then deletes the job's older blobs. Every failure is counted and
     * remembered, and says which step failed.
     */
    Stored store(String jobId, PolicySpec policy, TakenCheckpoint checkpoint) throws CheckpointFailedException {
        long t0 = System.nanoTime();
        // Unique across owners (two workers may checkpoint one job around a take-over) and sorted by seq.
        String id = "ck-%09d-%s-%06x".formatted(Math.max(0, checkpoint.lastSeq() + 1), workerId.replaceAll("[^A-Za-z0-9._~-]", "-"),
                ThreadLocalRandom.current().nextInt(1 << 24));
        if (id.length() > 128) id = id.substring(0, 120) + id.substring(id.length() - 7);
        StoredCheckpoint stored;
        long putStart = System.nanoTime();
        try {
            stored = store.put(jobId, id, out -> out.write(checkpoint.blob()));
            breaker.onSuccess(System.nanoTime() - putStart, TimeUnit.NANOSECONDS);
        } catch (CheckpointStoreException | RuntimeException e) {
            breaker.onError(System.nanoTime() - putStart, TimeUnit.NANOSECONDS, e);
            throw failed(Reason.STORE, "checkpoint at seq " + checkpoint.lastSeq() + " not stored in " + store.describe()
                    + ": " + innermost(e), e);
        }
        blobsOf.computeIfAbsent(jobId, j -> ConcurrentHashMap.newKeySet()).add(id);
        var layout = model.kvLayout();
        CheckpointManifest manifest = new CheckpointManifest(jobId, id, checkpoint.lastSeq(), stored.uri().toString(),
                stored.bytes(), stored.sha256(), model.identity().modelHash(),
                new KvLayout(layout.layers(), layout.kvHeads(), layout.headDim()), KvPolicies.toSchema(policy), clock.instant());
        try {
            events.send(events.record(Topics.CHECKPOINTS, manifest));
        } catch (RuntimeException e) {
            throw failed(Reason.MANIFEST, "checkpoint " + id + " is stored, but its manifest was not written to "
                    + Topics.CHECKPOINTS + ": " + e.getMessage(), e);
        }
        lastStored = clock.instant();
        metrics.checkpointStored();
        try {
            store.deleteOlderThan(jobId, id);
            // Every other blob this worker stored for the job is older, and went (the next success retries a failure).
            Set<String> ids = blobsOf.get(jobId);
            String kept = id;
            if (ids != null) ids.removeIf(other -> !other.equals(kept));
        } catch (CheckpointStoreException e) {
            log.warn("job {}: older checkpoints not deleted: {}", jobId, e.getMessage());
        }
        long storeMs = (System.nanoTime() - t0) / 1_000_000;
        return new Stored(manifest, new CheckpointRecord(id, checkpoint.lastSeq(), stored.bytes(), checkpoint.kvBytes(),
                checkpoint.fullKvBytes(), checkpoint.nanos() / 1_000_000, storeMs, store.describe()));
    }

    private CheckpointFailedException failed(Reason reason, String message, Throwable cause) {
        lastFailure = new Failure(clock.instant(), reason, message);
        metrics.checkpointFailed(reason);
        return new CheckpointFailedException(reason, message, cause);
    }

    /** The innermost cause's message: what a store failure comes down to (a refused connection, a denied key). */
    private static String innermost(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) cause = cause.getCause();
        String message = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        return cause == e ? message : e.getMessage() + " (" + message + ")";
    }

    /**
     * Reads the checkpoint a manifest names, checking its size and SHA-256 against the manifest, and the model
     * identity in its header against this worker's model.
     */
    CheckpointSource source(CheckpointManifest manifest) {
        return () -> {
            if (!manifest.modelHash().equals(model.identity().modelHash())) {
                throw new IOException("checkpoint " + manifest.checkpointId() + " refused: field 'modelHash' differs (manifest has "
                        + manifest.modelHash() + ", this worker's model is " + model.identity().modelHash() + ")");
            }
            try (InputStream in = store.openVerified(URI.create(manifest.uri()), manifest.bytes(), manifest.sha256())) {
                RestoredCheckpoint restored = CheckpointCodec.read(in, model.identity(), KvBlockPool.unbounded(model.kvLayout()));
                restored.cache().addListener(cacheListener);
                return restored;
            }
        };
    }

    /**
     * Deletes every blob of an ended job and writes a tombstone for its manifest. When the store fails, the blobs
     * this worker knows of (those it stored, and {@code knownCheckpointId}, the newest manifest it read, if any)
     * wait to be deleted once the store is back.
     */
    void deleteAll(String jobId, String knownCheckpointId) {
        Set<String> known = new HashSet<>();
        Set<String> stored = blobsOf.remove(jobId);
        if (stored != null) known.addAll(stored);
        if (knownCheckpointId != null) known.add(knownCheckpointId);
        try {
            store.deleteAllFor(jobId);
            pendingDeletes.remove(jobId);
        } catch (CheckpointStoreException e) {
            pendingDeletes.add(jobId, known);
            log.warn("job {}: checkpoints not deleted: {}; {}", jobId, e.getMessage(), known.isEmpty()
                    ? "none stored or read by this worker" : known + " will be deleted when the store is back");
        }
        try {
            events.send(new ProducerRecord<>(Topics.CHECKPOINTS, jobId.getBytes(StandardCharsets.UTF_8), null));
        } catch (PublishException e) {
            log.warn("job {}: no tombstone for its checkpoint manifest: {}", jobId, e.getMessage());
        }
    }

    /** A job this worker no longer owns (handed over, lost): its blobs are for its next owner to delete. */
    void forget(String jobId) {
        blobsOf.remove(jobId);
    }

    /** How many ended jobs wait for their blobs to be deleted. */
    int pendingDeletes() {
        return pendingDeletes.size();
    }

    /**
     * Deletes the blobs of ended jobs that could not be deleted when they ended, if the circuit is closed (the
     * store writes again) and some wait. Calls the store: run it where checkpoint work runs, not on the decode thread.
     */
    void retryDeletes() {
        if (pendingDeletes.size() == 0 || breaker.getState() != CircuitBreaker.State.CLOSED) return;
        pendingDeletes.retry(store);
    }
}
