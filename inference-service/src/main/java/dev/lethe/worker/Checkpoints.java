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
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoints as the claim check of DESIGN §4: the blob goes to the {@link CheckpointStore}, the manifest to the
 * compacted {@code lethe.checkpoints}. A newer checkpoint made durable deletes the older blobs of its job; a job
 * that ended has all of its blobs deleted and a tombstone written for its manifest.
 */
final class Checkpoints {
    private static final Logger log = LoggerFactory.getLogger(Checkpoints.class);

    /** What storing a checkpoint produced: the manifest written, and the record for the job's history. */
    record Stored(CheckpointManifest manifest, CheckpointRecord record) {}

    private final CheckpointStore store;
    private final EventPublisher events;
    private final Model model;
    private final KvCacheListener cacheListener;
    private final String workerId;
    private final Clock clock;

    Checkpoints(CheckpointStore store, EventPublisher events, Model model, KvCacheListener cacheListener, String workerId,
                Clock clock) {
        this.store = store;
        this.events = events;
        this.model = model;
        this.cacheListener = cacheListener;
        this.workerId = workerId;
        this.clock = clock;
    }

    String describe() {
        return store.describe();
    }

    /** Puts the blob, writes the manifest (acknowledged), then deletes the job's older blobs. */
    Stored store(String jobId, PolicySpec policy, TakenCheckpoint checkpoint) throws IOException {
        long t0 = System.nanoTime();
        // Unique across owners (two workers may checkpoint one job around a take-over) and sorted by seq.
        String id = "ck-%09d-%s-%06x".formatted(Math.max(0, checkpoint.lastSeq() + 1), workerId.replaceAll("[^A-Za-z0-9._~-]", "-"),
                ThreadLocalRandom.current().nextInt(1 << 24));
        if (id.length() > 128) id = id.substring(0, 120) + id.substring(id.length() - 7);
        StoredCheckpoint stored = store.put(jobId, id, out -> out.write(checkpoint.blob()));
        var layout = model.kvLayout();
        CheckpointManifest manifest = new CheckpointManifest(jobId, id, checkpoint.lastSeq(), stored.uri().toString(),
                stored.bytes(), stored.sha256(), model.identity().modelHash(),
                new KvLayout(layout.layers(), layout.kvHeads(), layout.headDim()), KvPolicies.toSchema(policy), clock.instant());
        events.send(events.record(Topics.CHECKPOINTS, manifest));
        try {
            store.deleteOlderThan(jobId, id);
        } catch (CheckpointStoreException e) {
            log.warn("job {}: older checkpoints not deleted: {}", jobId, e.getMessage());
        }
        long storeMs = (System.nanoTime() - t0) / 1_000_000;
        return new Stored(manifest, new CheckpointRecord(id, checkpoint.lastSeq(), stored.bytes(), checkpoint.kvBytes(),
                checkpoint.fullKvBytes(), checkpoint.nanos() / 1_000_000, storeMs, store.describe()));
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

    /** Deletes every blob of an ended job and writes a tombstone for its manifest. */
    void deleteAll(String jobId) {
        try {
            store.deleteAllFor(jobId);
        } catch (CheckpointStoreException e) {
            log.warn("job {}: checkpoints not deleted: {}", jobId, e.getMessage());
        }
        try {
            events.send(new ProducerRecord<>(Topics.CHECKPOINTS, jobId.getBytes(StandardCharsets.UTF_8), null));
        } catch (PublishException e) {
            log.warn("job {}: no tombstone for its checkpoint manifest: {}", jobId, e.getMessage());
        }
    }
}
