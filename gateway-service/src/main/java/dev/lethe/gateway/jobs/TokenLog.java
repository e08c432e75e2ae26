package dev.lethe.gateway.jobs;

import dev.lethe.schemas.TokenChunk;
import java.util.ArrayList;
import java.util.List;

/**
 * The most recent token chunks of one job, in seq order and without gaps: every chunk starts at or
 * before the end of the previous one. Holds at most {@code maxChunks}; older chunks are dropped and,
 * when a subscriber needs them, read back from Kafka. Not thread-safe: {@link JobTrack} guards it.
 */
final class TokenLog {

    private final int maxChunks;
    private final List<TokenChunk> chunks = new ArrayList<>();

    TokenLog(int maxChunks) {
        if (maxChunks < 1) {
            throw new IllegalArgumentException("maxChunks must be at least 1, not " + maxChunks);
        }
        this.maxChunks = maxChunks;
    }

    /**
     * Adds a chunk that carries tokens (end markers carry none and are not logged). A chunk wholly at
     * or before the end of the log is a duplicate (a redelivery, or a resumed worker repeating itself)
     * and is ignored. A chunk that leaves a gap after the log's end means chunks were missed: the log
     * restarts at it, and the missed ones are read back from Kafka when someone needs them.
     *
     * @return whether the chunk was added
     */
    boolean append(TokenChunk chunk) {
        if (chunk.tokenIds().isEmpty()) {
            return false;
        }
        if (!chunks.isEmpty()) {
            long last = lastSeq();
            if (chunk.toSeq() <= last) {
                return false;
            }
            if (chunk.fromSeq() > last + 1) {
                chunks.clear();
            }
        }
        chunks.add(chunk);
        if (chunks.size() > maxChunks) {
            // Drop a quarter at a time, so that appending stays amortised O(1).
            chunks.subList(0, Math.max(chunks.size() - maxChunks, maxChunks / 4)).clear();
        }
        return true;
    }

    boolean isEmpty() {
        return chunks.isEmpty();
    }

    /** Seq of the first token held, or -1 when empty. */
    long firstSeq() {
        return chunks.isEmpty() ? -1 : chunks.getFirst().fromSeq();
    }

    /** Seq of the last token held, or -1 when empty. */
    long lastSeq() {
        return chunks.isEmpty() ? -1 : chunks.getLast().toSeq();
    }

    int size() {
        return chunks.size();
    }

    /** Whether the log holds the token right after {@code cursor}. */
    boolean covers(long cursor) {
        return !chunks.isEmpty() && firstSeq() <= cursor + 1 && lastSeq() > cursor;
    }

    /** The first chunk that holds a token after {@code cursor}; call only when {@link #covers} says so. */
    TokenChunk chunkAfter(long cursor) {
        // toSeq grows strictly along the list: binary search for the first toSeq > cursor.
        int lo = 0;
        int hi = chunks.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (chunks.get(mid).toSeq() > cursor) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return chunks.get(lo);
    }
}
