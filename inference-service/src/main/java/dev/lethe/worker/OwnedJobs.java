package dev.lethe.worker;

import dev.lethe.engine.scheduler.ContinuousBatchScheduler;
import dev.lethe.engine.scheduler.JobSpec;
import dev.lethe.engine.scheduler.PreemptReason;
import dev.lethe.engine.scheduler.Resumption;
import dev.lethe.engine.scheduler.TakenCheckpoint;
import dev.lethe.schemas.CheckpointManifest;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.Topics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The unfinished jobs this worker owns (those of the {@code lethe.requests} partitions assigned to it), and what
 * happens to them between the scheduler and Kafka: their checkpoints are stored, their preemptions carried out
 * (the job's last tokens written, its checkpoint stored, PREEMPTED written), preempted jobs brought back when it
 * is their turn, and jobs handed over when their partition goes elsewhere.
 *
 * <p>Checkpoint and preemption work runs on one thread, in order, so that a job's checkpoints, its preemption and
 * the deletion of its checkpoints once it ended never overtake one another. Deletions that failed (the store was
 * down) are retried there too: when the store's circuit closes, and every {@code retryDeletesEvery}.
 */
final class OwnedJobs implements JobStream.Hooks, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OwnedJobs.class);
    /** Ended jobs remembered per worker, so that a request read again (after a take-over) does not run twice. */
    private static final int REMEMBERED_ENDED = 100_000;

    /** One job owned here. The scheduler holds it while it is queued or running; otherwise it waits ({@link #hold}). */
    static final class Job {
        final String jobId;
        final int partition;
        final JobSpec spec;
        volatile JobStream stream;
        volatile CheckpointManifest manifest;
        ScheduledFuture<?> hold; // guarded by the job
        boolean waiting;         // guarded by the job: preempted, holding no memory, not in the scheduler
        boolean cancelled;       // guarded by the job: a CANCEL came while it was between states
        final CompletableFuture<Void> settled = new CompletableFuture<>();

        Job(String jobId, int partition, JobSpec spec) {
            this.jobId = jobId;
            this.partition = partition;
            this.spec = spec;
        }
    }

    private final ContinuousBatchScheduler scheduler;
    private final StreamPublisher streams;
    private final Checkpoints checkpoints;
    private final EventPublisher events;
    private final Clock clock;
    private final Duration preemptHold;
    private final Duration flushTimeout;
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private final Set<String> ended = Collections.synchronizedSet(Collections.newSetFromMap(new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > REMEMBERED_ENDED;
        }
    }));
    private final ExecutorService work = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("lethe-checkpoints").unstarted(r));
    private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("lethe-resume-timer").daemon().unstarted(r));

    /**
     * @param preemptHold        how long a job preempted on request waits before it may resume here (queued and
     *                           higher-priority work goes first; a take-over by another worker may come meanwhile)
     * @param retryDeletesEvery  how often deletions of ended jobs' checkpoints that failed are tried again
     */
    OwnedJobs(ContinuousBatchScheduler scheduler, StreamPublisher streams, Checkpoints checkpoints, EventPublisher events,
              Clock clock, Duration preemptHold, Duration flushTimeout, Duration retryDeletesEvery) {
        this.scheduler = scheduler;
        this.streams = streams;
        this.checkpoints = checkpoints;
        this.events = events;
        this.clock = clock;
        this.preemptHold = preemptHold;
        this.flushTimeout = flushTimeout;
        checkpoints.onStoreBack(() -> execute(checkpoints::retryDeletes));
        timers.scheduleWithFixedDelay(() -> execute(checkpoints::retryDeletes), retryDeletesEvery.toMillis(),
                retryDeletesEvery.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Runs {@code task} on the checkpoint thread, unless the worker is closing. */
    private void execute(Runnable task) {
        try {
            work.execute(task);
        } catch (RejectedExecutionException e) {
            log.debug("not run: the worker is closing", e);
        }
    }

    /** Whether this worker has the job (owned and unfinished), or saw it end: a request for it must not start it again. */
    boolean knows(String jobId) {
        return jobs.containsKey(jobId) || ended.contains(jobId);
    }

    /** Remembers jobs that ended, as a take-over found them in {@code lethe.jobs}. */
    void rememberEnded(Collection<String> jobIds) {
        ended.addAll(jobIds);
    }

    Job job(String jobId) {
        return jobs.get(jobId);
    }

    /** A new job accepted from partition {@code partition}: queued in the scheduler (which may refuse: queue full). */
    void start(JobTracker tracker, int partition, JobSpec spec) {
        Job job = new Job(spec.jobId(), partition, spec);
        job.stream = streams.open(tracker, new int[0], this);
        jobs.put(job.jobId, job);
        try {
            scheduler.submit(spec, job.stream);
        } catch (RuntimeException e) {
            jobs.remove(job.jobId);
            throw e;
        }
    }

    /**
     * A job taken over (from a previous owner, or from this worker's previous run): continues from its checkpoint,
     * or by recomputing the tokens its client has.
     */
    void takeOver(JobTracker tracker, int partition, JobSpec spec, CheckpointManifest manifest, int[] delivered) {
        Job job = new Job(spec.jobId(), partition, spec);
        job.manifest = manifest;
        if (manifest != null) tracker.checkpointDurable(manifest.lastSeq());
        jobs.put(job.jobId, job);
        resume(job, tracker, delivered);
    }

    /** Queues the job in the scheduler again, from its newest checkpoint (if any) and the tokens its client has. */
    private void resume(Job job, JobTracker tracker, int[] delivered) {
        tracker.newRun();
        JobStream stream = streams.open(tracker, delivered, this);
        CheckpointManifest manifest = job.manifest;
        if (manifest != null) stream.resumingFrom(manifest.checkpointId());
        job.stream = stream;
        scheduler.resume(job.spec, stream, new Resumption(manifest == null ? null : checkpoints.source(manifest), delivered,
                manifest == null ? 0 : manifest.bytes()));
    }

    @Override
    public boolean admit(JobStream stream) {
        if (!jobs.containsKey(stream.jobId())) return false;
        try {
            checkpoints.admit();
            return true;
        } catch (CheckpointFailedException e) {
            // A skipped checkpoint is a failed one in the job's state; the breaker's opening was logged once.
            log.debug("job {}: {}", stream.jobId(), e.getMessage());
            execute(() -> stream.publish(stream.tracker().checkpointFailed(e.getMessage())));
            return false;
        }
    }

    @Override
    public void skippedInFlight(JobStream stream) {
        checkpoints.skippedInFlight();
    }

    @Override
    public void release(JobStream stream) {
        checkpoints.release();
    }

    @Override
    public void checkpoint(JobStream stream, TakenCheckpoint checkpoint) {
        Job job = jobs.get(stream.jobId());
        if (job == null) {
            checkpoints.release();
            stream.checkpointDone();
            return;
        }
        work.execute(() -> {
            try {
                Checkpoints.Stored stored = checkpoints.store(job.jobId, job.spec.kvPolicy(), checkpoint);
                job.manifest = stored.manifest();
                stream.publish(stream.tracker().checkpointed(stored.record()));
            } catch (CheckpointFailedException e) {
                log.warn("job {}: {}", job.jobId, e.getMessage());
                stream.publish(stream.tracker().checkpointFailed(e.getMessage()));
            } catch (RuntimeException e) {
                log.error("job {}: checkpoint at seq {} not stored", job.jobId, checkpoint.lastSeq(), e);
                stream.publish(stream.tracker().checkpointFailed(e.toString()));
            } finally {
                stream.checkpointDone();
            }
        });
    }

    @Override
    public void preempted(JobStream stream, PreemptReason reason, TakenCheckpoint checkpoint) {
        Job job = jobs.get(stream.jobId());
        if (job == null || reason == PreemptReason.LOST) {
            if (checkpoint != null) checkpoints.release();
            if (job != null) forget(job);
            return;
        }
        work.execute(() -> carryOut(job, stream, reason, checkpoint));
    }

    /** After a preemption: the run's last tokens written, its checkpoint stored, PREEMPTED written; then what the reason asks. */
    private void carryOut(Job job, JobStream stream, PreemptReason reason, TakenCheckpoint checkpoint) {
        JobTracker tracker = stream.tracker();
        try {
            try {
                stream.flushed().get(flushTimeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                log.warn("job {}: its last tokens were not written within {}; preempting anyway", job.jobId, flushTimeout);
            }
            String why = switch (reason) {
                case REQUESTED -> "on request";
                case MEMORY -> "for KV memory (over budget, or for higher-priority work)";
                case HANDOVER -> "handed over (its partition " + Topics.REQUESTS + "-" + job.partition + " moves to another worker)";
                case LOST -> "lost";
            };
            String detail;
            if (checkpoint == null) {
                detail = why + ", without a checkpoint" + (job.manifest == null ? " (it will be recomputed)"
                        : " (its checkpoint " + job.manifest.checkpointId() + " stays the newest)");
            } else {
                try {
                    Checkpoints.Stored stored = checkpoints.store(job.jobId, job.spec.kvPolicy(), checkpoint);
                    job.manifest = stored.manifest();
                    tracker.checkpointDurable(stored.manifest().lastSeq());
                    detail = why + ", " + stored.record().detail();
                } catch (CheckpointFailedException | RuntimeException e) {
                    tracker.checkpointFailed(e.getMessage());
                    detail = why + ", but its checkpoint could not be stored (" + e.getMessage() + "): it will be recomputed";
                    job.manifest = null;
                }
            }
            events.send(events.record(Topics.JOBS, tracker.preempted(detail)));
        } catch (Exception e) {
            log.error("job {}: preemption not recorded: {}", job.jobId, e.toString());
        }
        switch (reason) {
            case HANDOVER, LOST -> forget(job);
            case MEMORY -> resumeLater(job, tracker, stream.tokens(), Duration.ZERO);
            case REQUESTED -> resumeLater(job, tracker, stream.tokens(), preemptHold);
        }
    }

    private void resumeLater(Job job, JobTracker tracker, int[] delivered, Duration after) {
        synchronized (job) {
            if (job.settled.isDone()) return;
            if (job.cancelled) {
                work.execute(() -> endWaiting(job));
                return;
            }
            job.waiting = true;
            job.hold = timers.schedule(() -> {
                synchronized (job) {
                    if (!job.waiting) return;
                    job.waiting = false;
                    job.hold = null;
                }
                try {
                    resume(job, tracker, delivered);
                } catch (RuntimeException e) {
                    log.error("job {}: could not resume", job.jobId, e);
                }
            }, after.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** Called by the publisher once a job's final state is written. */
    void ended(JobTracker tracker) {
        Job job = jobs.get(tracker.jobId());
        ended.add(tracker.jobId());
        work.execute(() -> {
            CheckpointManifest manifest = job == null ? null : job.manifest;
            checkpoints.deleteAll(tracker.jobId(), manifest == null ? null : manifest.checkpointId());
            if (job != null) forget(job);
        });
    }

    private void forget(Job job) {
        if (jobs.remove(job.jobId, job)) checkpoints.forget(job.jobId);
        synchronized (job) {
            job.waiting = false;
            if (job.hold != null) job.hold.cancel(false);
            job.hold = null;
        }
        job.settled.complete(null);
    }

    /** A CANCEL command. Returns false when this worker does not have the job (the caller may remember it for later). */
    boolean cancel(String jobId) {
        if (scheduler.cancel(jobId)) return true;
        Job job = jobs.get(jobId);
        if (job == null) return false;
        synchronized (job) {
            if (!job.waiting) {
                // Between the scheduler and waiting (being preempted, or being resumed): settle it when it gets there.
                job.cancelled = true;
                if (scheduler.cancel(jobId)) job.cancelled = false;
                return true;
            }
            job.waiting = false;
            if (job.hold != null) job.hold.cancel(false);
            job.hold = null;
        }
        work.execute(() -> endWaiting(job));
        return true;
    }

    /** Ends a job that is waiting (preempted) as CANCELLED: its stream's end, its final state, no checkpoints left. */
    private void endWaiting(Job job) {
        JobTracker tracker = job.stream.tracker();
        try {
            JobStatus cancelled = tracker.cancelledWhileWaiting();
            events.sendAll(List.of(
                    events.record(Topics.TOKENS, JobStream.endAfter(job.jobId, tracker.lastSeq(), tracker.worker(),
                            tracker.attempt(), FinishReason.CANCELLED, clock)),
                    events.record(Topics.JOBS, cancelled)));
        } catch (RuntimeException e) {
            log.error("job {}: cancel not recorded: {}", job.jobId, e.toString());
        }
        ended.add(job.jobId);
        CheckpointManifest manifest = job.manifest;
        checkpoints.deleteAll(job.jobId, manifest == null ? null : manifest.checkpointId());
        forget(job);
    }

    /** A PREEMPT command: the job is checkpointed and leaves its slot; it comes back after the hold. */
    boolean preempt(String jobId) {
        return scheduler.preempt(jobId, PreemptReason.REQUESTED);
    }

    boolean checkpointNow(String jobId) {
        return scheduler.checkpointNow(jobId);
    }

    /**
     * The partitions are revoked: every job of theirs is checkpointed and marked PREEMPTED (running ones), or simply
     * let go (queued and waiting ones: their state in Kafka is already where a new owner resumes from), within the
     * timeout. Returns the jobs that did not settle in time (a new owner recovers them as after a crash).
     */
    List<String> handOver(Collection<Integer> partitions, Duration timeout) {
        List<Job> leaving = jobsOf(partitions);
        for (Job job : leaving) {
            boolean wasWaiting;
            synchronized (job) {
                wasWaiting = job.waiting;
            }
            if (wasWaiting) {
                forget(job);
            } else if (!scheduler.preempt(job.jobId, PreemptReason.HANDOVER)) {
                log.info("job {} is between states while its partition is revoked; waiting for it to settle", job.jobId);
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> unsettled = new ArrayList<>();
        for (Job job : leaving) {
            try {
                job.settled.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                unsettled.add(job.jobId);
                forgetNow(job);
            } catch (Exception e) {
                Thread.currentThread().interrupt();
                unsettled.add(job.jobId);
                forgetNow(job);
            }
        }
        return unsettled;
    }

    /** The partitions were taken away without a rebalance: drop their jobs, writing nothing (another worker may own them). */
    void lose(Collection<Integer> partitions) {
        for (Job job : jobsOf(partitions)) forgetNow(job);
    }

    private void forgetNow(Job job) {
        scheduler.preempt(job.jobId, PreemptReason.LOST);
        forget(job);
    }

    private List<Job> jobsOf(Collection<Integer> partitions) {
        return jobs.values().stream().filter(j -> partitions.contains(j.partition)).toList();
    }

    int size() {
        return jobs.size();
    }

    /** Owned jobs whose latest checkpoint attempt failed. */
    int checkpointsFailing() {
        int n = 0;
        for (Job job : jobs.values()) {
            JobStream stream = job.stream;
            if (stream != null && stream.tracker().checkpointsFailing()) n++;
        }
        return n;
    }

    @Override
    public void close() {
        timers.shutdownNow();
        work.shutdown();
        try {
            if (!work.awaitTermination(30, TimeUnit.SECONDS)) work.shutdownNow();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
