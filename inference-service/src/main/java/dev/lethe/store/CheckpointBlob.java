package dev.lethe.store;

import java.net.URI;
import java.time.Instant;

/** One stored checkpoint as a listing shows it. */
public record CheckpointBlob(String jobId, String checkpointId, URI uri, long bytes, Instant storedAt) {
}
