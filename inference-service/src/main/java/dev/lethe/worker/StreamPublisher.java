package dev.lethe.worker;

import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread that writes what running jobs produce: their states, token chunks, and final states. Each cycle
 * drains every job's {@link JobStream} and writes the records in one batch; a job's final state goes out only
 * after its last chunk is acknowledged, so {@code lethe.jobs} never claims tokens that {@code lethe.tokens}
 * lacks. Nothing is dropped: records that could not be written stay first in line for the next cycle. Once
 * everything drained so far is written, the jobs' trackers learn how far their tokens are delivered, preempted
 * runs learn they are flushed, and ended jobs are handed to {@code onEnded} (which deletes their checkpoints).
 */
final class StreamPublisher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StreamPublisher.class);

    private final EventPublisher events;
    private final WorkerMetrics metrics;
    private final Clock clock;
    private final int maxTokens;
    private final long flushNanos;
    private final Set<JobStream> streams = ConcurrentHashMap.newKeySet();
    private final Consumer<JobTracker> onEnded;
    private final int maxBacklog;
    /** Whether unwritten records reached {@code maxBacklog}: decoding then waits (see {@link #backlogged}). */
    private volatile boolean backlogged;

    // Publisher thread only: records not yet written, in order; final states wait in their own line.
    private final List<ProducerRecord<byte[], byte[]>> backlog = new ArrayList<>();
    private final List<ProducerRecord<byte[], byte[]>> finalStates = new ArrayList<>();
    /** What to do once the backlog is written, and once the final states are. */
    private final List<Runnable> afterBacklog = new ArrayList<>();
    private final List<Runnable> afterFinalStates = new ArrayList<>();

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition signal = lock.newCondition();
    private boolean signalled;
    private volatile boolean running = true;
    private final Thread thread;

    /**
     * @param maxBacklog records that may wait unwritten (Kafka down or slow) before {@link #backlogged} says so
     * @param onEnded    told (on this thread) when a job's final state is written
     */
    StreamPublisher(EventPublisher events, WorkerMetrics metrics, Clock clock, WorkerProperties.Chunk chunking,
                    int maxBacklog, Consumer<JobTracker> onEnded) {
        this.events = events;
        this.maxBacklog = maxBacklog;
        this.onEnded = onEnded;
        this.metrics = metrics;
        this.clock = clock;
        this.maxTokens = chunking.maxTokens();
        this.flushNanos = chunking.flushInterval().toNanos();
        this.thread = Thread.ofPlatform().name("lethe-publisher").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    boolean alive() {
        return thread.isAlive();
    }

    /**
     * Whether so many records wait unwritten that the jobs should produce no more until they are written: the
     * decode loop holds back meanwhile, so a Kafka outage costs time, not memory without bound.
     */
    boolean backlogged() {
        return backlogged;
    }

    /**
     * The listener the scheduler reports a run of the job to.
     *
     * @param delivered the tokens its client already has (empty for a new job)
     */
    JobStream open(JobTracker job, int[] delivered, JobStream.Hooks hooks) {
        JobStream stream = new JobStream(job, delivered, maxTokens, flushNanos, System::nanoTime, clock, this::wake,
                metrics::tokenGenerated, metrics::jobFinished, hooks);
        streams.add(stream);
        return stream;
    }

    private void wake() {
        lock.lock();
        try {
            signalled = true;
            signal.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void run() {
        while (running) {
            awaitWork();
            cycle(false);
        }
        // Shutting down: write what the jobs produced so far (a later owner resumes from there).
        cycle(true);
    }

    private void awaitWork() {
        long deadline = Long.MAX_VALUE;
        for (JobStream stream : streams) deadline = Math.min(deadline, stream.deadline());
        long wait = backlog.isEmpty() && finalStates.isEmpty()
                ? Math.min(Math.max(deadline - System.nanoTime(), 0), TimeUnit.SECONDS.toNanos(1))
                : flushNanos; // something failed to go out: try again soon (the retry has already backed off)
        lock.lock();
        try {
            if (!signalled && wait > 0) signal.awaitNanos(wait);
            signalled = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        } finally {
            lock.unlock();
        }
    }

    private void cycle(boolean force) {
        long now = System.nanoTime();
        int chunks = 0;
        for (JobStream stream : streams) {
            JobStream.Drained drained;
            try {
                drained = stream.drain(now, force);
                for (JobStatus status : drained.statuses()) backlog.add(events.record(Topics.JOBS, status));
                for (TokenChunk chunk : drained.chunks()) backlog.add(events.record(Topics.TOKENS, chunk));
                chunks += drained.chunks().size();
                if (!drained.chunks().isEmpty()) {
                    long toSeq = drained.chunks().getLast().toSeq();
                    afterBacklog.add(() -> stream.tracker().delivered(toSeq));
                }
                if (drained.closed()) afterBacklog.add(() -> stream.flushed().complete(null));
                if (drained.terminal() != null) {
                    finalStates.add(events.record(Topics.JOBS, drained.terminal()));
                    afterFinalStates.add(() -> onEnded.accept(stream.tracker()));
                }
            } catch (RuntimeException e) { // an event that breaks its schema: a bug, which must not stop the others
                log.error("cannot encode the events of job {}", stream.jobId(), e);
                streams.remove(stream);
                continue;
            }
            if (stream.ended()) streams.remove(stream);
        }
        metrics.chunksProduced(chunks);
        if (write(backlog)) {
            run(afterBacklog);
            if (write(finalStates)) run(afterFinalStates);
        }
        boolean over = backlog.size() + finalStates.size() >= maxBacklog;
        if (over != backlogged) {
            if (over) log.warn("{} records wait to be written: decoding holds back until Kafka takes them", backlog.size() + finalStates.size());
            else log.info("the unwritten records are written: decoding goes on");
            backlogged = over;
        }
    }

    private static void run(List<Runnable> actions) {
        for (Runnable action : actions) {
            try {
                action.run();
            } catch (RuntimeException e) {
                log.warn("an action after writing failed", e);
            }
        }
        actions.clear();
    }

    /** Writes and empties {@code records}; on failure keeps the unwritten ones in it, in order. */
    private boolean write(List<ProducerRecord<byte[], byte[]>> records) {
        if (records.isEmpty()) return true;
        try {
            events.sendAll(records);
            records.clear();
            return true;
        } catch (PublishException e) {
            metrics.publishFailed();
            log.warn("Kafka writes failing; {} record(s) kept to try again: {}", e.unsent().size(), e.getMessage());
            records.clear();
            records.addAll(e.unsent());
            return false;
        }
    }

    /** Stops after writing everything the jobs produced (and what was waiting), within the timeout. */
    @Override
    public void close() {
        running = false;
        wake();
        try {
            thread.join(Duration.ofSeconds(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
