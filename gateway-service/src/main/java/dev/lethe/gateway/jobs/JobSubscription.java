package dev.lethe.gateway.jobs;

import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;

/**
 * One subscriber's position in one job's stream. It pulls from the job's {@link JobTrack} by seq, only
 * as much as the subscriber requested, so a slow client costs no memory beyond the shared log; what
 * the log no longer holds is read back from the {@link TokenArchive}. Emitted tokens only ever move
 * the cursor forward, which is what makes a resumed stream free of gaps and repeats.
 *
 * <p>{@link #drain} may be called from any thread (the Kafka consumers, the subscriber's requests,
 * a finished read-back, a timer); a work-in-progress counter makes one caller at a time run the loop.
 * Nothing in it blocks: a read-back runs elsewhere and only adds chunks when it is done, and while it runs
 * the subscriber keeps following the live log, so a slow read never holds back tokens that came live.
 * Its timers and read-backs are disposed when the subscriber leaves.
 */
final class JobSubscription {

    private static final Logger LOG = LoggerFactory.getLogger(JobSubscription.class);

    /** Read-backs in a row that brought nothing new before the stream is declared lost. */
    private static final int MAX_FRUITLESS_READS = 3;

    private final JobTrack track;
    private final TokenArchive archive;
    private final FluxSink<StreamEvent> sink;
    private final Duration usageWait;
    private final Scheduler timers;
    private final AtomicInteger wip = new AtomicInteger();
    private final Queue<TokenChunk> readBack = new ConcurrentLinkedQueue<>();
    /** The timers and the read-back this subscription started, ended with it. */
    private final Disposable.Composite pending = Disposables.composite();
    private final Disposable.Swap reader = Disposables.swap();

    // Touched only inside the drain loop, except the volatile flags set by callbacks before a drain.
    private long cursor;
    private JobState lastState;
    private boolean done;
    private int fruitlessReads;
    private volatile boolean reading;
    private volatile boolean usageWaitOver;
    private boolean usageTimerStarted;
    private volatile boolean liveWaitOver;
    private boolean liveTimerStarted;

    /**
     * @param usageWait how long one of the gateway's consumers may trail the other (see {@link JobTrack#next})
     * @param timers    where the waits for the other consumer are timed
     */
    JobSubscription(JobTrack track, TokenArchive archive, FluxSink<StreamEvent> sink, long afterSeq,
                    Duration usageWait, Scheduler timers) {
        this.track = track;
        this.archive = archive;
        this.sink = sink;
        this.cursor = afterSeq;
        this.usageWait = usageWait;
        this.timers = timers;
        pending.add(reader);
    }

    /** The subscriber left, or its stream ended: stop the timers and any read-back in flight. */
    void dispose() {
        pending.dispose();
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
        while (!done && !sink.isCancelled() && sink.requestedFromDownstream() > 0) {
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
            switch (track.next(cursor, usageWaitOver, liveWaitOver)) {
                case JobTrack.Step.Chunk(TokenChunk chunk) -> emit(chunk);
                case JobTrack.Step.Gap(long untilSeq) -> {
                    // One read at a time; until it is back, a live chunk or a new status wakes the loop as usual.
                    if (!reading) {
                        readBack(untilSeq);
                    }
                    return;
                }
                case JobTrack.Step.Finish(StreamEvent.Finished finished) -> {
                    done = true;
                    sink.next(finished);
                    sink.complete();
                }
                case JobTrack.Step.Wait(JobTrack.Step.Wait.For waitingFor) -> {
                    switch (waitingFor) {
                        case FINAL_STATUS -> startUsageTimer();
                        case LIVE_TOKENS -> startLiveTimer();
                        case CHANGE -> { }
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
            read = Mono.delay(Duration.ofMillis(200L * fruitlessReads), timers).then(read);
        }
        reader.replace(read.subscribe(chunks -> {
            readBack.addAll(chunks);
            reading = false;
            drain();
        }, error -> {
            try (var _ = JobMdc.of(track.jobId())) {
                LOG.warn("reading tokens of job {} back from Kafka failed", track.jobId(), error);
            }
            reading = false;
            drain();
        }));
    }

    private void startUsageTimer() {
        if (!usageTimerStarted) {
            usageTimerStarted = true;
            pending.add(timers.schedule(() -> {
                usageWaitOver = true;
                drain();
            }, usageWait.toNanos(), TimeUnit.NANOSECONDS));
        }
    }

    /**
     * A status overtook the first chunks of a job submitted here: they are on their way to this gateway's token
     * consumer, which delivers them (and wakes this subscription) long before the wait ends. Only if they never
     * come, because that consumer started reading after they were written, are they read back.
     */
    private void startLiveTimer() {
        if (!liveTimerStarted) {
            liveTimerStarted = true;
            pending.add(timers.schedule(() -> {
                liveWaitOver = true;
                drain();
            }, usageWait.toNanos(), TimeUnit.NANOSECONDS));
        }
    }
}
