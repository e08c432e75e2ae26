package dev.lethe.store;

import java.io.InputStream;
import java.net.URI;
import java.util.List;

/**
 * Where checkpoint blobs live (DESIGN §4, the claim check): Kafka carries a manifest, the blob is here.
 *
 * <p>Blobs are addressed by a job id and a checkpoint id, both matching the event schemas' id pattern
 * ({@link CheckpointKeys#ID_PATTERN}), and named by a {@link URI} that the store hands out on
 * {@link #put}. Writes are atomic: a reader sees a whole blob or none, never a half-written one. Reads and
 * writes stream, so a multi-gigabyte checkpoint never sits in memory whole.
 */
public interface CheckpointStore extends AutoCloseable {

    /**
     * Stores the bytes that {@code writer} writes as checkpoint {@code checkpointId} of {@code jobId},
     * replacing a blob of the same ids. Counts and hashes them while they stream past.
     *
     * @return where the blob is, its size and the SHA-256 of all its bytes
     */
    StoredCheckpoint put(String jobId, String checkpointId, CheckpointWriter writer) throws CheckpointStoreException;

    /**
     * Opens the blob at {@code uri} for streaming; the caller closes the stream.
     *
     * @throws CheckpointStoreException with reason {@code MISSING} when there is no such blob,
     *                                  {@code INVALID} when the URI is not one of this store's
     */
    InputStream open(URI uri) throws CheckpointStoreException;

    /**
     * Opens the blob at {@code uri} and checks, when the stream reaches its end, that it had exactly
     * {@code bytes} bytes with this SHA-256 (the manifest's claim); a mismatch fails the read with reason
     * {@code CORRUPT}.
     */
    default InputStream openVerified(URI uri, long bytes, String sha256Hex) throws CheckpointStoreException {
        return new VerifyingInputStream(open(uri), uri, bytes, sha256Hex);
    }

    /** Deletes the blob at {@code uri}; deleting one that is not there is not an error. */
    void delete(URI uri) throws CheckpointStoreException;

    /** The checkpoints stored for {@code jobId}, oldest first (by the store's modification time, then id). */
    List<CheckpointBlob> list(String jobId) throws CheckpointStoreException;

    /**
     * Deletes the checkpoints of {@code jobId} stored no later than {@code keepCheckpointId}, except that one:
     * what a worker does once a newer checkpoint is durable. A checkpoint stored strictly after it (by another
     * owner, racing) is left alone. Times are the store's (a file's modification time, an object's
     * LastModified), so two checkpoints in the same clock tick count as older.
     *
     * @return how many were deleted
     * @throws CheckpointStoreException reason {@code MISSING} when {@code keepCheckpointId} is not stored, so a
     *                                  failed write never leads to deleting the checkpoints before it
     */
    default int deleteOlderThan(String jobId, String keepCheckpointId) throws CheckpointStoreException {
        List<CheckpointBlob> blobs = list(jobId);
        CheckpointBlob keep = blobs.stream().filter(b -> b.checkpointId().equals(keepCheckpointId)).findFirst()
                .orElseThrow(() -> CheckpointStoreException.missing("checkpoint " + keepCheckpointId + " of job "
                        + jobId + " is not stored, so nothing older is deleted", null));
        int deleted = 0;
        for (CheckpointBlob blob : blobs) {
            if (blob != keep && !blob.storedAt().isAfter(keep.storedAt())) {
                delete(blob.uri());
                deleted++;
            }
        }
        return deleted;
    }

    /** Deletes every checkpoint of {@code jobId} (the job has ended); returns how many there were. */
    int deleteAllFor(String jobId) throws CheckpointStoreException;

    /** A short name for logs and job history, like {@code dir:/var/lethe/checkpoints} or {@code s3://bucket/prefix}. */
    String describe();

    /** Releases what the store holds (an S3 client it owns); the default holds nothing. */
    @Override
    default void close() {
    }
}
