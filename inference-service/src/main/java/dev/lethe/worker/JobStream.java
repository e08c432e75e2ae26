package dev.lethe.worker;

import dev.lethe.engine.scheduler.JobListener;
import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The events of one running job, between the decode thread, which adds tokens as they come, and the publisher
 * thread, which {@link #drain drains} them into records. Tokens are grouped into chunks: a chunk goes out when
 * {@code maxTokens} tokens are waiting or the oldest has waited {@code flushNanos}, and holds at most
 * {@code maxTokens} tokens. The decode thread never waits for Kafka here: it only appends under a short lock.
 */
final class JobStream implements JobListener {

    /** What one drain produced, in the order it must be written. */
    record Drained(List<JobStatus> statuses, List<TokenChunk> chunks, JobStatus terminal) {
        static final Drained NOTHING = new Drained(List.of(), List.of(), null);

        boolean isEmpty() {
            return statuses.isEmpty() && chunks.isEmpty() && terminal == null;
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

    // Guarded by this.
    private final List<Integer> ids = new ArrayList<>();
    private final List<String> texts = new ArrayList<>();
    private final List<Long> arrivals = new ArrayList<>();
    private long nextSeq;
    private JobStatus startedStatus;
    private JobOutcome outcome;
    private boolean ended;

    /**
     * @param wake    tells the publisher there is something to send now
     * @param onToken counts a generated token (metrics)
     * @param onEnd   counts an ended job (metrics)
     */
    JobStream(JobTracker job, int maxTokens, long flushNanos, LongSupplier nanoTime, Clock clock, Runnable wake,
              Runnable onToken, Consumer<JobOutcome.Ending> onEnd) {
        this.job = job;
        this.maxTokens = maxTokens;
        this.flushNanos = flushNanos;
        this.nanoTime = nanoTime;
        this.clock = clock;
        this.wake = wake;
        this.onToken = onToken;
        this.onEnd = onEnd;
    }

    String jobId() {
        return job.jobId();
    }

    @Override
    public void onStarted(int promptTokens) {
        synchronized (this) {
            startedStatus = job.started(promptTokens);
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
            full = ids.size() >= maxTokens;
        }
        onToken.run();
        if (full) wake.run();
    }

    @Override
    public void onFinished(JobOutcome outcome) {
        synchronized (this) {
            this.outcome = outcome;
        }
        onEnd.accept(outcome.ending());
        wake.run();
    }

    /** When the oldest waiting token is due, in {@code nanoTime} terms; {@link Long#MAX_VALUE} if none waits. */
    synchronized long deadline() {
        return ids.isEmpty() ? Long.MAX_VALUE : arrivals.getFirst() + flushNanos;
    }

    synchronized boolean ended() {
        return ended;
    }

    /**
     * Takes what is due: the RUNNING status if the job started, every full chunk, the rest when it is due
     * (or {@code force}), and after the job ended its last chunk (with the finish reason and any held-back text)
     * and its final status, which must be written only once the chunks are.
     */
    synchronized Drained drain(long now, boolean force) {
        if (ended) return Drained.NOTHING;
        List<JobStatus> statuses = startedStatus == null ? List.of() : List.of(startedStatus);
        startedStatus = null;
        List<TokenChunk> chunks = new ArrayList<>();
        while (ids.size() > maxTokens || (ids.size() == maxTokens && outcome == null)) {
            chunks.add(take(maxTokens, "", null));
        }
        JobStatus terminal = null;
        if (outcome != null) {
            chunks.add(take(ids.size(), outcome.trailingText(), JobTracker.finishReason(outcome.ending())));
            terminal = job.ended(outcome);
            ended = true;
        } else if (!ids.isEmpty() && (force || now - arrivals.getFirst() >= flushNanos)) {
            chunks.add(take(ids.size(), "", null));
        }
        return statuses.isEmpty() && chunks.isEmpty() ? Drained.NOTHING : new Drained(statuses, chunks, terminal);
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
                1, finishReason, clock.instant());
        nextSeq += n;
        return chunk;
    }

    /** The only chunk of a job that ended before generating anything (rejected, or cancelled before it started). */
    static TokenChunk emptyEnd(String jobId, String worker, FinishReason reason, Clock clock) {
        return new TokenChunk(jobId, 0, -1, List.of(), "", worker, 1, reason, clock.instant());
    }
}
