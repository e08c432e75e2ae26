package dev.lethe.gateway.jobs;

import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;

/** Test events of one job whose token {@code i} has id {@code 100 + i} and text {@code "t<i> "}. */
final class Chunks {

    static final Instant T0 = Instant.parse("2026-03-14T09:26:53Z");

    private Chunks() {
    }

    static TokenChunk chunk(String jobId, long from, long to) {
        return chunk(jobId, from, to, null);
    }

    static TokenChunk chunk(String jobId, long from, long to, FinishReason finish) {
        List<Integer> ids = LongStream.rangeClosed(from, to).mapToObj(i -> (int) (100 + i)).toList();
        return new TokenChunk(jobId, from, to, ids, text(from, to), "w-0", 1, finish, T0.plusMillis(to + 1));
    }

    /** The end marker: no tokens, after token {@code last}. */
    static TokenChunk end(String jobId, long last, FinishReason finish) {
        return new TokenChunk(jobId, last + 1, last, List.of(), "", "w-0", 1, finish, T0.plusMillis(last + 2));
    }

    /** Chunks of {@code size} tokens covering tokens 0..count-1. */
    static List<TokenChunk> split(String jobId, int count, int size) {
        List<TokenChunk> chunks = new ArrayList<>();
        for (int from = 0; from < count; from += size) {
            chunks.add(chunk(jobId, from, Math.min(count, from + size) - 1));
        }
        return chunks;
    }

    static String text(long from, long to) {
        StringBuilder text = new StringBuilder();
        for (long i = from; i <= to; i++) {
            text.append('t').append(i).append(' ');
        }
        return text.toString();
    }

    static JobStatus status(String jobId, String tenant, JobState state, long lastSeq, long promptTokens,
                            FinishReason finish, long millis) {
        return new JobStatus(jobId, tenant, state, "w-0", lastSeq, promptTokens, lastSeq + 1, finish, null,
                List.of(new JobEvent(JobEvent.Type.ACCEPTED, T0, "w-0", null)), T0.plusMillis(millis));
    }
}
