package dev.lethe.engine.scheduler;

import dev.lethe.cache.KvCache;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.engine.generate.FinishReason;
import dev.lethe.engine.generate.Generation;
import dev.lethe.engine.generate.TokenListener;
import dev.lethe.engine.model.ForwardPass;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching: jobs join and leave between decode steps, and each {@link #step} advances every active
 * job by one token. At most {@link SchedulerConfig#maxActiveJobs} jobs decode at once; the others wait in a
 * bounded queue, highest priority first.
 *
 * <p>Threads: {@link #submit}, {@link #cancel}, {@link #hasRoom} and {@link #snapshot} may be called from any
 * thread. {@link #step} and {@link #close} must be called from one thread only, the decode thread (see
 * {@link DecodeLoop}): it alone touches the engine, which is not thread-safe per sequence.
 *
 * <p>Today a step runs the active jobs' forward passes one after the other. A batched forward pass over all of
 * them (one read of the weights per step) would replace the loop in {@link #advance} and nothing else. Commands
 * that act on a running job (cancel now; preempt and checkpoint later) are queued and carried out at the start
 * of the next step, between two tokens, where a job's state is consistent.
 */
public final class ContinuousBatchScheduler implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ContinuousBatchScheduler.class.getName());

    private final Model model;
    private final CacheFactory caches;
    private final SchedulerConfig config;
    private final Runnable onRoom;
    /** One batched forward pass with a row for every job that may be active at once. */
    private final ForwardPass pass;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition workArrived = lock.newCondition();
    private final PriorityQueue<Waiting> queue = new PriorityQueue<>(
            Comparator.comparingInt((Waiting w) -> -w.spec().priority()).thenComparingLong(Waiting::arrival));
    private long arrivals;
    /** The queue filled up since the last time {@link #onRoom} was told there is room. */
    private boolean roomRunOut;

    /** Queued and active jobs: ids are unique among them. */
    private final Set<String> known = ConcurrentHashMap.newKeySet();
    private final ConcurrentLinkedQueue<String> cancelRequests = new ConcurrentLinkedQueue<>();

    // Decode thread only.
    private final List<Running> active = new ArrayList<>();
    private long steps;
    private volatile SchedulerSnapshot snapshot = SchedulerSnapshot.EMPTY;

    /**
     * @param onRoom called (on the decode thread) when the queue, having been full, has room again; a Kafka
     *     consumer that paused for back-pressure resumes there
     */
    public ContinuousBatchScheduler(Model model, CacheFactory caches, SchedulerConfig config, Runnable onRoom) {
        this.model = Objects.requireNonNull(model, "model");
        this.caches = Objects.requireNonNull(caches, "caches");
        this.config = Objects.requireNonNull(config, "config");
        this.onRoom = Objects.requireNonNull(onRoom, "onRoom");
        this.pass = new ForwardPass(model, config.maxActiveJobs());
    }

    public SchedulerConfig config() {
        return config;
    }

    /**
     * Queues a job; it starts at a later step, when a slot is free.
     *
     * @throws QueueFullException if {@link #hasRoom} is false: nothing was queued
     * @throws IllegalArgumentException if a job with this id is queued or running
     */
    public void submit(JobSpec spec, JobListener listener) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(listener, "listener");
        lock.lock();
        try {
            if (known.contains(spec.jobId())) {
                throw new IllegalArgumentException("job " + spec.jobId() + " is already queued or running");
            }
            if (queue.size() >= config.queueCapacity()) {
                roomRunOut = true;
                throw new QueueFullException(config.queueCapacity());
            }
            known.add(spec.jobId());
            queue.add(new Waiting(spec, listener, arrivals++));
            if (queue.size() >= config.queueCapacity()) roomRunOut = true;
            workArrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@link #submit} would accept a job now. */
    public boolean hasRoom() {
        lock.lock();
        try {
            return queue.size() < config.queueCapacity();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Asks for a job to end. It takes effect at the start of the next step, so a running job generates at most
     * the token of the step in progress. Returns false if no such job is queued or running.
     */
    public boolean cancel(String jobId) {
        if (!known.contains(jobId)) return false;
        cancelRequests.add(jobId);
        lock.lock();
        try {
            workArrived.signalAll();
        } finally {
            lock.unlock();
        }
        return true;
    }

    /** Whether a job with this id is queued or running. */
    public boolean isKnown(String jobId) {
        return known.contains(jobId);
    }

    public SchedulerSnapshot snapshot() {
        return snapshot;
    }

    /**
     * One round, on the decode thread: carry out cancellations, start queued jobs while there are free slots
     * (prefilling their prompts), then advance every active job by one token. Returns whether any job is still
     * queued or active.
     */
    public boolean step() {
        applyCancellations();
        admit();
        advance();
        steps++;
        publishSnapshot();
        lock.lock();
        try {
            return !active.isEmpty() || !queue.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until a job or a command arrives (or the timeout passes) while there is nothing to do. */
    public void awaitWork(long timeout, TimeUnit unit) throws InterruptedException {
        lock.lock();
        try {
            if (active.isEmpty() && queue.isEmpty() && cancelRequests.isEmpty()) {
                workArrived.await(timeout, unit);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Wakes a thread in {@link #awaitWork}. */
    public void wakeUp() {
        lock.lock();
        try {
            workArrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void applyCancellations() {
        String jobId;
        while ((jobId = cancelRequests.poll()) != null) {
            Waiting waiting = removeQueued(jobId);
            if (waiting != null) {
                known.remove(jobId);
                notifyFinished(jobId, waiting.listener(), new JobOutcome(JobOutcome.Ending.CANCELLED, 0, 0, "", null));
                continue;
            }
            for (Iterator<Running> it = active.iterator(); it.hasNext(); ) {
                Running running = it.next();
                if (running.spec.jobId().equals(jobId)) {
                    it.remove();
                    finish(running, JobOutcome.Ending.CANCELLED, null);
                    break;
                }
            }
        }
    }

    private Waiting removeQueued(String jobId) {
        lock.lock();
        try {
            for (Iterator<Waiting> it = queue.iterator(); it.hasNext(); ) {
                Waiting w = it.next();
                if (w.spec().jobId().equals(jobId)) {
                    it.remove();
                    tellIfRoom();
                    return w;
                }
            }
            return null;
        } finally {
            lock.unlock();
        }
    }

    private void admit() {
        while (active.size() < config.maxActiveJobs()) {
            Waiting next;
            lock.lock();
            try {
                next = queue.poll();
                if (next != null) tellIfRoom();
            } finally {
                lock.unlock();
            }
            if (next == null) return;
            start(next);
        }
    }

    /** Under the lock. Tells {@link #onRoom} once per time the queue ran full. */
    private void tellIfRoom() {
        if (roomRunOut && queue.size() < config.queueCapacity()) {
            roomRunOut = false;
            try {
                onRoom.run();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "the room callback failed", e);
            }
        }
    }

    private void start(Waiting waiting) {
        JobSpec spec = waiting.spec();
        Sequence sequence = null;
        try {
            KvCache cache = caches.create(spec.kvPolicy());
            try {
                sequence = model.newSequence(cache);
            } catch (RuntimeException e) {
                cache.close();
                throw e;
            }
            int[] prompt = spec.prompt();
            Running running = new Running(spec, waiting.listener(), sequence,
                    new Generation(sequence, model.tokenizer(), new Sampler(spec.sampling())));
            running.generation.prefill(prompt);
            running.listener.onStarted(prompt.length);
            active.add(running);
        } catch (RuntimeException e) {
            if (sequence != null) sequence.close();
            known.remove(spec.jobId());
            notifyFinished(spec.jobId(), waiting.listener(), new JobOutcome(JobOutcome.Ending.FAILED,
                    spec.prompt().length, 0, "", describe(e)));
        }
    }

    /** One decode step for every active job, through one batched forward pass (each weight row read once). */
    private void advance() {
        if (active.isEmpty()) return;
        List<Running> batch = new ArrayList<>(active);
        try {
            Generation.stepAll(batch.stream().map(r -> r.generation).toList(), List.copyOf(batch), pass);
        } catch (RuntimeException e) {
            // A pass that fails part-way leaves every sequence in it mid-step, so none of them can go on.
            for (Running running : batch) {
                active.remove(running);
                finish(running, JobOutcome.Ending.FAILED, describe(e));
            }
            return;
        }
        for (Running running : batch) {
            if (running.generation.finished()) {
                active.remove(running);
                FinishReason reason = running.generation.finishReason();
                finish(running, reason == FinishReason.STOP ? JobOutcome.Ending.STOP : JobOutcome.Ending.LENGTH, null);
            }
        }
    }

    private void finish(Running running, JobOutcome.Ending ending, String error) {
        running.sequence.close();
        known.remove(running.spec.jobId());
        notifyFinished(running.spec.jobId(), running.listener, new JobOutcome(ending,
                running.generation.promptTokens(), running.generation.generatedCount(), running.trailingText, error));
    }

    private static void notifyFinished(String jobId, JobListener listener, JobOutcome outcome) {
        try {
            listener.onFinished(outcome);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the listener of job " + jobId + " failed on its outcome", e);
        }
    }

    private void publishSnapshot() {
        long retained = 0;
        long full = 0;
        for (Running running : active) {
            KvCache cache = running.sequence.cache();
            if (cache instanceof OffHeapKvCache offHeap) {
                retained += offHeap.bytesRetained();
                long bytesPerToken = offHeap.layout().bytesPerTokenPerLayer();
                for (int l = 0; l < offHeap.layout().layers(); l++) full += offHeap.fullLength(l) * bytesPerToken;
            } else {
                retained += cache.bytesHeld();
                full += cache.bytesHeld();
            }
        }
        int queued;
        lock.lock();
        try {
            queued = queue.size();
        } finally {
            lock.unlock();
        }
        snapshot = new SchedulerSnapshot(queued, active.size(), retained, full, steps);
    }

    private static String describe(RuntimeException e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /**
     * Releases the active jobs' KV memory, on the decode thread, without reporting outcomes: a job cut off by a
     * shutdown has not ended, and its state stays where the listener last put it.
     */
    @Override
    public void close() {
        for (Running running : active) running.sequence.close();
        active.clear();
        publishSnapshot();
    }

    private record Waiting(JobSpec spec, JobListener listener, long arrival) {}

    /** An active job; it hears its own generation's tokens and hands them to the job's listener. */
    private static final class Running implements TokenListener {
        final JobSpec spec;
        final JobListener listener;
        final Sequence sequence;
        final Generation generation;
        String trailingText = "";

        Running(JobSpec spec, JobListener listener, Sequence sequence, Generation generation) {
            this.spec = spec;
            this.listener = listener;
            this.sequence = sequence;
            this.generation = generation;
        }

        @Override
        public void onToken(int seq, int tokenId, String text) {
            listener.onToken(seq, tokenId, text);
        }

        @Override
        public void onFinish(FinishReason reason, String trailingText) {
            this.trailingText = trailingText;
        }
    }
}
