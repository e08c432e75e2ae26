package dev.lethe.engine.scheduler;

/**
 * A checkpoint of a running job, serialized between two decode steps (the codec's format, see
 * {@code dev.lethe.cache.checkpoint.CheckpointCodec}): the caller stores the bytes where it likes.
 *
 * @param lastSeq     seq of the last generated token it holds, -1 before the first
 * @param blob        the checkpoint's bytes
 * @param kvBytes     key and value bytes of the cache it holds (the retained tokens only)
 * @param fullKvBytes what the same job's cache would hold without eviction
 * @param nanos       time the decode thread spent writing it
 */
public record TakenCheckpoint(long lastSeq, byte[] blob, long kvBytes, long fullKvBytes, long nanos) {
}
