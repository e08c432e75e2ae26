package dev.lethe.schemas;

import java.time.Instant;
import java.util.Objects;

/**
 * {@code lethe.checkpoint-manifest/v1}: where a job's newest checkpoint blob is (compacted topic
 * {@code lethe.checkpoints}). Kafka carries only this claim check; the blob lives in a checkpoint store.
 *
 * @param lastSeq   seq of the last generated token in the checkpoint, -1 when taken before the first
 * @param uri       where the blob is, for example {@code s3://bucket/key} or {@code file:///...}
 * @param bytes     size of the blob
 * @param sha256    SHA-256 of the whole blob, lower-case hex
 * @param modelHash the model hash of the checkpoint header, lower-case hex
 */
public record CheckpointManifest(
        String jobId,
        String checkpointId,
        long lastSeq,
        String uri,
        long bytes,
        String sha256,
        String modelHash,
        KvLayout layout,
        KvPolicy policy,
        Instant createdAt) implements Event {

    public CheckpointManifest {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(checkpointId, "checkpointId");
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(sha256, "sha256");
        Objects.requireNonNull(modelHash, "modelHash");
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(createdAt, "createdAt");
    }
}
