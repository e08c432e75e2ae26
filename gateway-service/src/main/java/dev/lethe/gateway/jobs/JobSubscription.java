package dev.lethe.gateway.jobs;

import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;

/**
 * One subscriber's position in one job's stream. It pulls from the job's {@link JobTrack} by seq, only
 * as much as the subscriber requested, so a slow client costs no memory beyond the shared log; what
 * the log no longer holds is read back from the {@link TokenArchive}. Emitted tokens only ever move
 * the cursor forward, which is what makes a resumed stream free of gaps and repeats.
 *
 * <p>{@link #drain} may be called from any thread (the Kafka consumers, the subscriber's requests,
 * a finished read-back); a work-in-progress counter makes one caller at a time run the loop.
 */
final class JobSubscription {

    private static final Logger LOG = LoggerFactory.getLogger(JobSubscription.class);

    /** Read-backs in a row that brought nothing new before the stream is declared lost. */
    private static final int MAX_FRUITLESS_READS = 3;

    private final JobTrack track;
    private final TokenArchive archive;
    private final FluxSink<StreamEvent> sink;
    private final Duration usageWait;
    private final AtomicInteger wip = new AtomicInteger();
    private final Queue<TokenChunk> readBack = new ConcurrentLinkedQueue<>();

    // Touched only inside the drain loop, except the volatile flags set by callbacks before a drain.
    private long cursor;
    private JobState lastState;
    private boolean done;
    private int fruitlessReads;
    private volatile boolean reading;
    private volatile boolean usageWaitOver;
    private boolean usageTimerStarted;

    JobSubscription(JobTrack track, TokenArchive archive, FluxSink<StreamEvent> sink, long afterSeq,
                    Duration usageWait) {
        this.track = track;
        this.archive = archive;
        this.sink = sink;
        this.cursor = afterSeq;
        this.usageWait = usageWait;
    }

    void drain() {
        if (wip.getAndIncrement() != 0) {
            return;
        }
        int missed = 1;
        do {
            try {
                drainLoop();
            } catch (RuntimeException e) {
                done = true;
                sink.error(e);
            }
            missed = wip.addAndGet(-missed);
        } while (missed != 0);
    }

    private void drainLoop() {
        while (!done && !reading && !sink.isCancelled() && sink.requestedFromDownstream() > 0) {
            JobStatus status = track.status();
            if (status != null && status.state() != lastState) {
                lastState = status.state();
                sink.next(new StreamEvent.StatusChanged(status));
                continue;
            }
            TokenChunk fromArchive = readBack.poll();
            if (fromArchive != null) {
                track.learnFinish(fromArchive);
                emit(fromArchive);
                continue;
            }
            switch (track.next(cursor, usageWaitOver)) {
                case JobTrack.Step.Chunk(TokenChunk chunk) -> emit(chunk);
                case JobTrack.Step.Gap(long untilSeq) -> readBack(untilSeq);
                case JobTrack.Step.Finish(StreamEvent.Finished finished) -> {
                    done = true;
                    sink.next(finished);
                    sink.complete();
                }
                case JobTrack.Step.Wait(boolean forUsage) -> {
                    if (forUsage) {
                        startUsageTimer();
                    }
                    return;
                }
            }
        }
    }

    private void emit(TokenChunk chunk) {
        if (chunk.toSeq() <= cursor) {
            return; // a repeat, or an end marker
        }
        if (chunk.fromSeq() > cursor + 1) {
            // Read-back returns chunks in Kafka order; one starting past the cursor means the tokens
            // in between are missing there too. Leave it for the next read-back to decide.
            return;
        }
        StreamEvent.Tokens tokens;
        if (chunk.fromSeq() == cursor + 1) {
            tokens = new StreamEvent.Tokens(chunk.fromSeq(), chunk.toSeq(), chunk.tokenIds(), chunk.textDelta());
        } else {
            int skip = (int) (cursor + 1 - chunk.fromSeq());
            List<Integer> rest = chunk.tokenIds().subList(skip, chunk.tokenIds().size());
            tokens = new StreamEvent.Tokens(cursor + 1, chunk.toSeq(), rest, null);
        }
        cursor = chunk.toSeq();
        fruitlessReads = 0;
        sink.next(tokens);
    }

    private void readBack(long untilSeq) {
        if (fruitlessReads >= MAX_FRUITLESS_READS) {
            done = true;
            sink.next(new StreamEvent.Lost("tokens after seq " + cursor + " of job " + track.jobId()
                    + " are no longer held by the gateway nor found in Kafka"));
            sink.complete();
            return;
        }
        fruitlessReads++;
        reading = true;
        long from = cursor;
        // A repeated read waits a little: the tokens may still be on their way to the topic.
        Mono<List<TokenChunk>> read = archive.read(track.jobId(), from, untilSeq, track.createdAt());
        if (fruitlessReads > 1) {
            read = Mono.delay(Duration.ofMillis(200L * fruitlessReads)).then(read);
        }
        read.subscribe(chunks -> {
            readBack.addAll(chunks);
            reading = false;
            drain();
        }, error -> {
            try (var _ = JobMdc.of(track.jobId())) {
                LOG.warn("reading tokens of job {} back from Kafka failed", track.jobId(), error);
            }
            reading = false;
            drain();
        });
    }

    private void startUsageTimer() {
        if (usageTimerStarted) {
            return;
        }
        usageTimerStarted = true;
        Mono.delay(usageWait).subscribe(tick -> {
            usageWaitOver = true;
            drain();
        });
    }
}
