package dev.lethe.worker;

import dev.lethe.engine.scheduler.JobListener;
import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.engine.scheduler.PreemptReason;
import dev.lethe.engine.scheduler.ResumeReport;
import dev.lethe.engine.scheduler.TakenCheckpoint;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The events of one run of a job on this worker, between the decode thread, which adds tokens as they come, and
 * the publisher thread, which {@link #drain drains} them into records. Tokens are grouped into chunks: a chunk goes
 * out when {@code maxTokens} tokens are waiting or the oldest has waited {@code flushNanos}, and holds at most
 * {@code maxTokens} tokens. The decode thread never waits for Kafka here: it only appends under a short lock.
 *
 * <p>A run ends with the job ({@link #onFinished}: last chunk, then final state) or with a preemption
 * ({@link #onPreempted}: the waiting tokens go out, then {@link #flushed} completes and {@link Hooks} take over).
 * A resumed run starts at the seq after the tokens its client already has.
 */
final class JobStream implements JobListener {

    /**
     * What a run hands to the rest of the worker: checkpoints to store, a preemption to carry out. A checkpoint is
     * serialised only once {@link #admit} said yes; an admitted one then reaches {@link #checkpoint} or
     * {@link #preempted}, or else {@link #release}.
     */
    interface Hooks {
        /** On the decode thread, before a checkpoint of the run is serialised: whether it could be stored now. */
        boolean admit(JobStream stream);

        /** A checkpoint was skipped because the run's previous one is still being stored. */
        void skippedInFlight(JobStream stream);

        /** An admitted checkpoint that will not come (it could not be serialised). */
        void release(JobStream stream);

        void checkpoint(JobStream stream, TakenCheckpoint checkpoint);

        void preempted(JobStream stream, PreemptReason reason, TakenCheckpoint checkpoint);

        /** No one stores checkpoints: none is taken. */
        Hooks NONE = new Hooks() {
            @Override
            public boolean admit(JobStream stream) {
                return false;
            }

            @Override
            public void skippedInFlight(JobStream stream) {
            }

            @Override
            public void release(JobStream stream) {
            }

            @Override
            public void checkpoint(JobStream stream, TakenCheckpoint checkpoint) {
            }

            @Override
            public void preempted(JobStream stream, PreemptReason reason, TakenCheckpoint checkpoint) {
            }
        };
    }

    /** What one drain produced, in the order it must be written. */
    record Drained(List<JobStatus> statuses, List<TokenChunk> chunks, JobStatus terminal, boolean closed) {
        static final Drained NOTHING = new Drained(List.of(), List.of(), null, false);

        boolean isEmpty() {
            return statuses.isEmpty() && chunks.isEmpty() && terminal == null && !closed;
        }
    }

    private final JobTracker job;
    private final int maxTokens;
    private final long flushNanos;
    private final LongSupplier nanoTime;
    private final Clock clock;
    private final Runnable wake;
    private final Runnable onToken;
    private final Consumer<JobOutcome.Ending> onEnd;
    private final Hooks hooks;
    private final int attempt;
    private final int initialDelivered;
    /** Completes once every token of a preempted run is written. */
    private final CompletableFuture<Void> flushed = new CompletableFuture<>();

    // Guarded by this.
    private final List<Integer> ids = new ArrayList<>();
    private final List<String> texts = new ArrayList<>();
    private final List<Long> arrivals = new ArrayList<>();
    private final List<JobStatus> statuses = new ArrayList<>();
    private int[] allIds;
    private int allCount;
    private long nextSeq;
    private JobOutcome outcome;
    private PreemptReason preemptedFor;
    private boolean ended;
    private String resumedFrom;
    private boolean checkpointInFlight;
    /** The hooks admitted a checkpoint that has not come yet. */
    private boolean admitted;

    /**
     * @param delivered the tokens the job's client already has (empty for a new job): this run continues after them
     * @param wake      tells the publisher there is something to send now
     * @param onToken   counts a generated token (metrics)
     * @param onEnd     counts an ended job (metrics)
     */
    JobStream(JobTracker job, int[] delivered, int maxTokens, long flushNanos, LongSupplier nanoTime, Clock clock,
              Runnable wake, Runnable onToken, Consumer<JobOutcome.Ending> onEnd, Hooks hooks) {
        this.job = job;
        this.maxTokens = maxTokens;
        this.flushNanos = flushNanos;
        this.nanoTime = nanoTime;
        this.clock = clock;
        this.wake = wake;
        this.onToken = onToken;
        this.onEnd = onEnd;
        this.hooks = hooks;
        this.attempt = job.attempt();
        this.allIds = Arrays.copyOf(delivered, Math.max(64, delivered.length * 2));
        this.allCount = delivered.length;
        this.nextSeq = delivered.length;
        this.initialDelivered = delivered.length;
    }

    JobStream(JobTracker job, int maxTokens, long flushNanos, LongSupplier nanoTime, Clock clock, Runnable wake,
              Runnable onToken, Consumer<JobOutcome.Ending> onEnd) {
        this(job, new int[0], maxTokens, flushNanos, nanoTime, clock, wake, onToken, onEnd, Hooks.NONE);
    }

    String jobId() {
        return job.jobId();
    }

    JobTracker tracker() {
        return job;
    }

    /** Names the checkpoint this run resumes from, for its history. */
    synchronized void resumingFrom(String checkpointId) {
        resumedFrom = checkpointId;
    }

    /** Every token of the job so far, those its client had before this run included. */
    synchronized int[] tokens() {
        return Arrays.copyOf(allIds, allCount);
    }

    CompletableFuture<Void> flushed() {
        return flushed;
    }

    @Override
    public void onStarted(int promptTokens) {
        synchronized (this) {
            statuses.add(job.started(promptTokens));
        }
        wake.run();
    }

    @Override
    public void onResumed(int promptTokens, ResumeReport report) {
        synchronized (this) {
            statuses.add(job.resumed(promptTokens, report, resumedFrom, initialDelivered));
        }
        wake.run();
    }

    @Override
    public void onToken(int seq, int tokenId, String text) {
        boolean full;
        synchronized (this) {
            if (seq != nextSeq + ids.size()) {
                throw new IllegalStateException("job " + job.jobId() + ": token seq " + seq + " after " + (nextSeq + ids.size() - 1));
            }
            ids.add(tokenId);
            texts.add(text);
            arrivals.add(nanoTime.getAsLong());
            if (allCount == allIds.length) allIds = Arrays.copyOf(allIds, allCount * 2);
            allIds[allCount++] = tokenId;
            full = ids.size() >= maxTokens;
        }
        onToken.run();
        if (full) wake.run();
    }

    @Override
    public boolean checkpointWanted(boolean leaving) {
        boolean busy;
        synchronized (this) {
            if (ended || outcome != null) return false;
            // The store is behind: skip this one rather than pile blobs up in memory; the next is due soon. A
            // preemption's goes anyway, after the one in flight: it is the job's last here.
            busy = checkpointInFlight && !leaving;
        }
        if (busy) {
            hooks.skippedInFlight(this);
            return false;
        }
        if (!hooks.admit(this)) return false;
        synchronized (this) {
            admitted = true;
            if (!leaving) checkpointInFlight = true;
        }
        return true;
    }

    @Override
    public void onCheckpoint(TakenCheckpoint checkpoint) {
        synchronized (this) {
            if (!admitted) return; // not admitted: it holds no turn at the store's circuit breaker
            admitted = false;
        }
        hooks.checkpoint(this, checkpoint);
    }

    @Override
    public void onCheckpointFailed() {
        synchronized (this) {
            if (!admitted) return;
            admitted = false;
            checkpointInFlight = false;
        }
        hooks.release(this);
    }

    /** The store has the checkpoint (or gave up on it): the next one may go. */
    synchronized void checkpointDone() {
        checkpointInFlight = false;
    }

    @Override
    public void onPreempted(PreemptReason reason, TakenCheckpoint checkpoint) {
        boolean release;
        synchronized (this) {
            // Admitted, but it could not be serialised: the store will not see it. One not admitted is not stored.
            release = admitted && checkpoint == null;
            if (!admitted) checkpoint = null;
            admitted = false;
            preemptedFor = reason;
            if (reason == PreemptReason.LOST) {
                // Another worker owns the job now: nothing more from here.
                ids.clear();
                texts.clear();
                arrivals.clear();
                statuses.clear();
                ended = true;
            }
        }
        if (reason == PreemptReason.LOST) flushed.complete(null);
        if (release) hooks.release(this);
        hooks.preempted(this, reason, checkpoint);
        wake.run();
    }

    @Override
    public void onFinished(JobOutcome outcome) {
        synchronized (this) {
            this.outcome = outcome;
        }
        onEnd.accept(outcome.ending());
        wake.run();
    }

    /** A state to write in order with the tokens (a checkpoint's); dropped when the run is over. */
    void publish(JobStatus status) {
        synchronized (this) {
            if (ended) return;
            statuses.add(status);
        }
        wake.run();
    }

    /** When the oldest waiting token is due, in {@code nanoTime} terms; {@link Long#MAX_VALUE} if none waits. */
    synchronized long deadline() {
        if (!statuses.isEmpty() || ((outcome != null || preemptedFor != null) && !ended)) return nanoTime.getAsLong();
        return ids.isEmpty() ? Long.MAX_VALUE : arrivals.getFirst() + flushNanos;
    }

    synchronized boolean ended() {
        return ended;
    }

    /**
     * Takes what is due: states waiting to go, every full chunk, the rest when it is due (or {@code force}), and
     * after the job ended its last chunk (with the finish reason and any held-back text) and its final status,
     * which must be written only once the chunks are; after a preemption, every waiting token ({@code closed}).
     */
    synchronized Drained drain(long now, boolean force) {
        if (ended) return Drained.NOTHING;
        List<JobStatus> due = List.copyOf(statuses);
        statuses.clear();
        List<TokenChunk> chunks = new ArrayList<>();
        while (ids.size() > maxTokens || (ids.size() == maxTokens && outcome == null)) {
            chunks.add(take(maxTokens, "", null));
        }
        JobStatus terminal = null;
        boolean closed = false;
        if (outcome != null) {
            chunks.add(take(ids.size(), outcome.trailingText(), JobTracker.finishReason(outcome.ending())));
            terminal = job.ended(outcome);
            ended = true;
        } else if (preemptedFor != null) {
            if (!ids.isEmpty()) chunks.add(take(ids.size(), "", null));
            ended = true;
            closed = true;
        } else if (!ids.isEmpty() && (force || now - arrivals.getFirst() >= flushNanos)) {
            chunks.add(take(ids.size(), "", null));
        }
        return due.isEmpty() && chunks.isEmpty() && !closed ? Drained.NOTHING : new Drained(due, chunks, terminal, closed);
    }

    private TokenChunk take(int n, String trailing, FinishReason finishReason) {
        List<Integer> chunkIds = List.copyOf(ids.subList(0, n));
        StringBuilder text = new StringBuilder();
        for (String t : texts.subList(0, n)) text.append(t);
        text.append(trailing);
        ids.subList(0, n).clear();
        texts.subList(0, n).clear();
        arrivals.subList(0, n).clear();
        TokenChunk chunk = new TokenChunk(job.jobId(), nextSeq, nextSeq + n - 1, chunkIds, text.toString(), job.worker(),
                attempt, finishReason, clock.instant());
        nextSeq += n;
        return chunk;
    }

    /** The only chunk of a job that ended before generating anything (rejected, or cancelled before it started). */
    static TokenChunk emptyEnd(String jobId, String worker, FinishReason reason, Clock clock) {
        return endAfter(jobId, -1, worker, 1, reason, clock);
    }

    /** A chunk with no tokens that ends a job's stream after seq {@code lastSeq}. */
    static TokenChunk endAfter(String jobId, long lastSeq, String worker, int attempt, FinishReason reason, Clock clock) {
        return new TokenChunk(jobId, lastSeq + 1, lastSeq, List.of(), "", worker, attempt, reason, clock.instant());
    }
}
