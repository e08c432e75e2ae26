package dev.lethe.schemas;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * {@code lethe.token-chunk/v1}: the generated tokens {@code fromSeq..toSeq} (inclusive) of one job
 * (topic {@code lethe.tokens}). {@code seq} is the 0-based index of a generated token in its job.
 * A chunk that only marks the end of the stream has no tokens, {@code toSeq = fromSeq - 1} and a
 * finish reason.
 *
 * @param textDelta    text completed by these tokens; bytes of a character not yet complete are held
 *                     back for a later chunk, so concatenating all deltas in order gives the text
 * @param attempt      1 on the job's first run, one more on each resume
 * @param finishReason present on the job's last chunk only, otherwise null
 */
public record TokenChunk(
        String jobId,
        long fromSeq,
        long toSeq,
        List<Integer> tokenIds,
        String textDelta,
        String worker,
        int attempt,
        FinishReason finishReason,
        Instant createdAt) implements Event {

    public TokenChunk {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(textDelta, "textDelta");
        Objects.requireNonNull(worker, "worker");
        Objects.requireNonNull(createdAt, "createdAt");
        tokenIds = List.copyOf(tokenIds);
        // The one rule of this event that JSON Schema cannot say.
        if (toSeq - fromSeq + 1 != tokenIds.size()) {
            throw new IllegalArgumentException("tokenIds has " + tokenIds.size() + " ids but fromSeq..toSeq = "
                    + fromSeq + ".." + toSeq + " spans " + (toSeq - fromSeq + 1));
        }
    }
}
