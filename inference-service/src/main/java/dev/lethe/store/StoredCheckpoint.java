package dev.lethe.store;

import java.net.URI;
import java.util.Objects;

/**
 * A blob a store has made durable: what a checkpoint manifest needs besides the checkpoint's own header.
 *
 * @param sha256 SHA-256 of every byte of the blob, lower-case hex (the manifest's {@code sha256})
 */
public record StoredCheckpoint(String jobId, String checkpointId, URI uri, long bytes, String sha256) {
    public StoredCheckpoint {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(checkpointId, "checkpointId");
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(sha256, "sha256");
    }
}
