package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class JobStreamTest {
    private static final long MS = 1_000_000;
    private final Clock clock = Clock.fixed(Instant.parse("2026-01-02T03:04:05Z"), ZoneOffset.UTC);
    private final AtomicLong now = new AtomicLong();
    private final AtomicInteger wakes = new AtomicInteger();
    private final AtomicInteger tokens = new AtomicInteger();
    private final List<JobOutcome.Ending> ends = new ArrayList<>();

    private JobStream stream() {
        return new JobStream(new JobTracker("job-1", "acme", "w1", clock), 16, 20 * MS, now::get, clock,
                wakes::incrementAndGet, tokens::incrementAndGet, ends::add);
    }

    private static void emit(JobStream stream, int from, int to) {
        for (int seq = from; seq < to; seq++) stream.onToken(seq, 100 + seq, "t" + seq + " ");
    }

    @Test
    void fullChunksGoAtOnceTheRestWhenTheOldestTokenIsDue() {
        JobStream stream = stream();
        stream.onStarted(7);
        emit(stream, 0, 40);
        assertEquals(40, tokens.get());
        assertTrue(wakes.get() >= 2, "the publisher is woken when a chunk's worth is waiting");

        JobStream.Drained first = stream.drain(now.get(), false);
        assertEquals(JobState.RUNNING, first.statuses().getFirst().state());
        assertEquals("w1", first.statuses().getFirst().worker());
        assertEquals(List.of(0L, 16L), first.chunks().stream().map(TokenChunk::fromSeq).toList());
        assertEquals(List.of(15L, 31L), first.chunks().stream().map(TokenChunk::toSeq).toList());
        assertNull(first.terminal());

        now.addAndGet(19 * MS);
        assertTrue(stream.drain(now.get(), false).isEmpty(), "8 tokens, the oldest 19 ms old: not due yet");
        assertEquals(20 * MS, stream.deadline());
        now.addAndGet(MS);
        JobStream.Drained second = stream.drain(now.get(), false);
        assertEquals(1, second.chunks().size());
        TokenChunk rest = second.chunks().getFirst();
        assertEquals(32, rest.fromSeq());
        assertEquals(39, rest.toSeq());
        assertEquals(List.of(132, 133, 134, 135, 136, 137, 138, 139), rest.tokenIds());
        assertEquals("t32 t33 t34 t35 t36 t37 t38 t39 ", rest.textDelta());
        assertNull(rest.finishReason());
        assertEquals(Long.MAX_VALUE, stream.deadline());
    }

    @Test
    void theLastChunkCarriesTheFinishReasonAndHeldBackTextThenTheFinalState() {
        JobStream stream = stream();
        stream.onStarted(5);
        emit(stream, 0, 20);
        stream.onFinished(new JobOutcome(JobOutcome.Ending.LENGTH, 5, 20, "!", null));
        assertEquals(List.of(JobOutcome.Ending.LENGTH), ends);
        JobStream.Drained drained = stream.drain(now.get(), false);
        List<TokenChunk> chunks = drained.chunks();
        assertEquals(2, chunks.size());
        assertEquals(16, chunks.get(0).tokenIds().size());
        assertNull(chunks.get(0).finishReason());
        assertEquals(16, chunks.get(1).fromSeq());
        assertEquals(19, chunks.get(1).toSeq());
        assertEquals("t16 t17 t18 t19 !", chunks.get(1).textDelta());
        assertEquals(FinishReason.LENGTH, chunks.get(1).finishReason());
        JobStatus done = drained.terminal();
        assertEquals(JobState.COMPLETED, done.state());
        assertEquals(19, done.lastSeq());
        assertEquals(5, done.promptTokens());
        assertEquals(20, done.completionTokens());
        assertEquals(List.of(JobEvent.Type.STARTED, JobEvent.Type.COMPLETED),
                done.history().stream().map(JobEvent::type).toList());
        assertTrue(stream.ended());
        assertTrue(stream.drain(now.get(), true).isEmpty(), "nothing after the end");
    }

    @Test
    void aCancelWithNothingWaitingEndsWithAnEmptyChunk() {
        JobStream stream = stream();
        stream.onStarted(3);
        emit(stream, 0, 16);
        stream.drain(now.get(), false);
        stream.onFinished(new JobOutcome(JobOutcome.Ending.CANCELLED, 3, 16, "", null));
        JobStream.Drained drained = stream.drain(now.get(), false);
        TokenChunk end = drained.chunks().getFirst();
        assertEquals(16, end.fromSeq());
        assertEquals(15, end.toSeq());
        assertEquals(List.of(), end.tokenIds());
        assertEquals(FinishReason.CANCELLED, end.finishReason());
        assertEquals(JobState.CANCELLED, drained.terminal().state());
        assertEquals(15, drained.terminal().lastSeq());
    }

    @Test
    void aFailureIsReportedWithItsMessage() {
        JobStream stream = stream();
        stream.onFinished(new JobOutcome(JobOutcome.Ending.FAILED, 9, 0, "", "out of KV memory"));
        JobStream.Drained drained = stream.drain(now.get(), false);
        assertEquals(FinishReason.ERROR, drained.chunks().getFirst().finishReason());
        assertEquals(JobState.FAILED, drained.terminal().state());
        assertEquals("ENGINE_ERROR", drained.terminal().error().code());
        assertEquals("out of KV memory", drained.terminal().error().message());
    }

    @Test
    void aGapInSeqsIsABug() {
        JobStream stream = stream();
        stream.onToken(0, 1, "a");
        assertThrows(IllegalStateException.class, () -> stream.onToken(2, 1, "b"));
    }
}
