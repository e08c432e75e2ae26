package dev.lethe.engine.scheduler;

import dev.lethe.cache.KvCache;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.checkpoint.CheckpointCodec;
import dev.lethe.cache.checkpoint.RestoredCheckpoint;
import dev.lethe.cache.checkpoint.SequenceState;
import dev.lethe.engine.generate.FinishReason;
import dev.lethe.engine.generate.Generation;
import dev.lethe.engine.generate.TokenListener;
import dev.lethe.engine.model.ForwardPass;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
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
 * <p>Threads: {@link #submit}, {@link #resume}, {@link #cancel}, {@link #preempt}, {@link #checkpointNow},
 * {@link #hasRoom} and {@link #snapshot} may be called from any thread. {@link #step} and {@link #close} must be
 * called from one thread only, the decode thread (see {@link DecodeLoop}): it alone touches the engine, which is
 * not thread-safe per sequence. Commands that act on a job are queued and carried out at the start of the next
 * step, between two tokens, where a job's state is exactly its cache, its tokens and its sampler: a checkpoint.
 *
 * <p>Preemption: a job leaves with a checkpoint when asked ({@link #preempt}), and on its own when the active
 * jobs' KV memory exceeds {@link SchedulerConfig#kvBudgetBytes} or a queued job of higher priority cannot start;
 * the victim is the lowest-priority job, the youngest among equals. Whoever submitted it decides when it comes
 * back ({@link #resume}); it is admitted when its KV memory fits.
 */
public final class ContinuousBatchScheduler implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ContinuousBatchScheduler.class.getName());

    private final Model model;
    private final CacheFactory caches;
    private final SchedulerConfig config;
    private final Runnable onRoom;
    /** One batched forward pass with a row for every job that may be active at once. */
    private final ForwardPass pass;
    private final long bytesPerToken;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition workArrived = lock.newCondition();
    private final PriorityQueue<Waiting> queue = new PriorityQueue<>(
            Comparator.comparingInt((Waiting w) -> -w.spec().priority()).thenComparingLong(Waiting::arrival));
    private long arrivals;
    /** Queued jobs that count against the queue's capacity (new ones, not resumed ones). */
    private int newQueued;
    /** The queue filled up since the last time {@link #onRoom} was told there is room. */
    private boolean roomRunOut;

    /** Queued and active jobs: ids are unique among them. */
    private final Set<String> known = ConcurrentHashMap.newKeySet();
    private final ConcurrentLinkedQueue<Command> commands = new ConcurrentLinkedQueue<>();

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
        this.bytesPerToken = model.kvLayout().bytesPerTokenPerLayer() * model.kvLayout().layers();
    }

    public SchedulerConfig config() {
        return config;
    }

    /**
     * Queues a new job; it starts at a later step, when a slot is free.
     *
     * @throws QueueFullException if {@link #hasRoom} is false: nothing was queued
     * @throws IllegalArgumentException if a job with this id is queued or running
     */
    public void submit(JobSpec spec, JobListener listener) {
        enqueue(spec, listener, null);
    }

    /**
     * Queues a job that ran before (preempted here, or taken over from another worker) to continue from its
     * checkpoint or, without one, by recomputing its delivered tokens. Not limited by the queue's capacity: the
     * job was accepted long ago, and waits here holding no KV memory.
     *
     * @throws IllegalArgumentException if a job with this id is queued or running
     */
    public void resume(JobSpec spec, JobListener listener, Resumption resumption) {
        enqueue(spec, listener, Objects.requireNonNull(resumption, "resumption"));
    }

    private void enqueue(JobSpec spec, JobListener listener, Resumption resumption) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(listener, "listener");
        lock.lock();
        try {
            if (known.contains(spec.jobId())) {
                throw new IllegalArgumentException("job " + spec.jobId() + " is already queued or running");
            }
            if (resumption == null) {
                if (newQueued >= config.queueCapacity()) {
                    roomRunOut = true;
                    throw new QueueFullException(config.queueCapacity());
                }
                newQueued++;
                if (newQueued >= config.queueCapacity()) roomRunOut = true;
            }
            known.add(spec.jobId());
            queue.add(new Waiting(spec, listener, resumption, arrivals++));
            workArrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@link #submit} would accept a job now. */
    public boolean hasRoom() {
        lock.lock();
        try {
            return newQueued < config.queueCapacity();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Asks for a job to end. It takes effect at the start of the next step, so a running job generates at most
     * the token of the step in progress. Returns false if no such job is queued or running.
     */
    public boolean cancel(String jobId) {
        return command(jobId, Command.Kind.CANCEL, null);
    }

    /**
     * Asks for a job to leave: at the start of the next step a running job is checkpointed and its KV memory
     * freed, a queued one is taken out of the queue; its listener hears {@link JobListener#onPreempted}. With
     * {@link PreemptReason#LOST} no checkpoint is taken. Returns false if no such job is queued or running.
     */
    public boolean preempt(String jobId, PreemptReason reason) {
        return command(jobId, Command.Kind.PREEMPT, Objects.requireNonNull(reason, "reason"));
    }

    /** Asks for a checkpoint of a running job at the start of the next step ({@link JobListener#onCheckpoint}). */
    public boolean checkpointNow(String jobId) {
        return command(jobId, Command.Kind.CHECKPOINT, null);
    }

    private boolean command(String jobId, Command.Kind kind, PreemptReason reason) {
        if (!known.contains(jobId)) return false;
        commands.add(new Command(jobId, kind, reason));
        wakeUp();
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
     * One round, on the decode thread: carry out commands, start queued jobs while there are free slots and KV
     * memory (prefilling their prompts, or restoring them), advance every active job by one token, take the
     * checkpoints that are due, and preempt jobs if the KV memory is over budget. Returns whether any job is
     * still queued or active.
     */
    public boolean step() {
        applyCommands();
        admit();
        advance();
        checkpointDue();
        relieveMemory();
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
            if (active.isEmpty() && queue.isEmpty() && commands.isEmpty()) {
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

    private void applyCommands() {
        Command command;
        while ((command = commands.poll()) != null) {
            Waiting waiting = removeQueued(command.jobId());
            if (waiting != null) {
                switch (command.kind()) {
                    case CANCEL -> {
                        known.remove(command.jobId());
                        notifyFinished(command.jobId(), waiting.listener(), new JobOutcome(JobOutcome.Ending.CANCELLED, 0, 0, "", null));
                    }
                    case PREEMPT -> {
                        known.remove(command.jobId());
                        notifyPreempted(command.jobId(), waiting.listener(), command.reason(), null);
                    }
                    case CHECKPOINT -> requeue(waiting); // nothing to checkpoint before it runs
                }
                continue;
            }
            Running running = activeJob(command.jobId());
            if (running == null) continue;
            switch (command.kind()) {
                case CANCEL -> {
                    active.remove(running);
                    finish(running, JobOutcome.Ending.CANCELLED, null);
                }
                case PREEMPT -> preemptRunning(running, command.reason());
                case CHECKPOINT -> takeCheckpoint(running);
            }
        }
    }

    private Running activeJob(String jobId) {
        for (Running running : active) {
            if (running.spec.jobId().equals(jobId)) return running;
        }
        return null;
    }

    private Waiting removeQueued(String jobId) {
        lock.lock();
        try {
            for (Iterator<Waiting> it = queue.iterator(); it.hasNext(); ) {
                Waiting w = it.next();
                if (w.spec().jobId().equals(jobId)) {
                    it.remove();
                    if (w.resumption() == null) newQueued--;
                    tellIfRoom();
                    return w;
                }
            }
            return null;
        } finally {
            lock.unlock();
        }
    }

    private void requeue(Waiting waiting) {
        lock.lock();
        try {
            queue.add(waiting);
            if (waiting.resumption() == null) newQueued++;
        } finally {
            lock.unlock();
        }
    }

    /** Starts queued jobs, best first, while there is a free slot and the next one's KV memory fits. */
    private void admit() {
        while (active.size() < config.maxActiveJobs()) {
            Waiting next;
            lock.lock();
            try {
                next = queue.peek();
                if (next == null || !fits(next)) return;
                queue.poll();
                if (next.resumption() == null) newQueued--;
                tellIfRoom();
            } finally {
                lock.unlock();
            }
            start(next);
        }
    }

    /** Whether the job's KV memory fits the budget next to the active jobs' (a job alone always fits). */
    private boolean fits(Waiting waiting) {
        if (config.kvBudgetBytes() == 0 || active.isEmpty()) return true;
        return kvBytesHeld() + estimatedBytes(waiting) <= config.kvBudgetBytes();
    }

    private long estimatedBytes(Waiting waiting) {
        Resumption r = waiting.resumption();
        if (r != null && r.estimatedKvBytes() > 0) return r.estimatedKvBytes();
        int tokens = waiting.spec().prompt().length + (r == null ? 0 : r.delivered().length);
        return tokens * bytesPerToken;
    }

    /** Under the lock. Tells {@link #onRoom} once per time the queue ran full. */
    private void tellIfRoom() {
        if (roomRunOut && newQueued < config.queueCapacity()) {
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
        Running running = new Running(spec, waiting.listener(), waiting.arrival());
        try {
            if (waiting.resumption() == null) {
                KvCache cache = caches.create(spec.kvPolicy());
                running.sequence = newSequence(cache);
                running.generation = new Generation(running.sequence, model.tokenizer(), new Sampler(spec.sampling()));
                running.generation.prefill(spec.prompt());
                running.listener.onStarted(spec.prompt().length);
            } else {
                ResumeReport report = restore(running, waiting.resumption());
                running.listener.onResumed(spec.prompt().length, report);
            }
            running.checkpointedCount = running.generation.generatedCount();
            running.checkpointedAt = System.nanoTime();
            active.add(running);
            if (running.generation.finished()) { // the replayed tokens reached the end
                active.remove(running);
                finish(running, ending(running.generation.finishReason()), null);
            }
        } catch (RuntimeException e) {
            if (running.sequence != null) running.sequence.close();
            known.remove(spec.jobId());
            notifyFinished(spec.jobId(), waiting.listener(), new JobOutcome(JobOutcome.Ending.FAILED,
                    spec.prompt().length, running.generation == null ? 0 : running.generation.generatedCount(), "", describe(e)));
        }
    }

    private Sequence newSequence(KvCache cache) {
        try {
            return model.newSequence(cache);
        } catch (RuntimeException e) {
            cache.close();
            throw e;
        }
    }

    /**
     * Brings a job back: from its checkpoint when that loads and agrees with the delivered tokens (replaying the
     * delivered tokens it lacks, sending the ones it has that were not delivered), otherwise by recomputing the
     * prompt and the delivered tokens in one prefill.
     */
    private ResumeReport restore(Running running, Resumption resumption) {
        long t0 = System.nanoTime();
        JobSpec spec = running.spec;
        int[] delivered = resumption.delivered();
        String fallback = null;
        if (resumption.checkpoint() != null) {
            RestoredCheckpoint restored = null;
            try {
                restored = resumption.checkpoint().load();
                SequenceState state = restored.sequence();
                String disagreement = disagreement(spec, state, delivered);
                if (disagreement == null) {
                    int[] held = state.generatedTokens();
                    running.sequence = model.resumeSequence(restored.cache(), state.promptTokens().length + held.length - 1);
                    running.generation = Generation.resume(running.sequence, model.tokenizer(), spec.sampling(), state,
                            delivered.length - 1L, running);
                    int[] missing = delivered.length > held.length ? Arrays.copyOfRange(delivered, held.length, delivered.length) : new int[0];
                    int differing = running.generation.replay(missing, running);
                    return new ResumeReport(true, held.length - 1L, missing.length, differing,
                            Math.max(0, held.length - delivered.length), null, System.nanoTime() - t0);
                }
                fallback = disagreement;
                restored.cache().close();
            } catch (IOException | RuntimeException e) {
                fallback = "checkpoint not usable: " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
                if (running.sequence != null) {
                    running.sequence.close();
                } else if (restored != null) {
                    restored.cache().close();
                }
                running.sequence = null;
                running.generation = null;
            }
        }
        running.sequence = newSequence(caches.create(spec.kvPolicy()));
        running.generation = Generation.recompute(running.sequence, model.tokenizer(), spec.sampling(), spec.prompt(), delivered);
        return new ResumeReport(false, -1, 0, 0, 0, fallback, System.nanoTime() - t0);
    }

    /** Why a checkpoint cannot continue this job with these delivered tokens, or null when it can. */
    private static String disagreement(JobSpec spec, SequenceState state, int[] delivered) {
        if (!Arrays.equals(spec.prompt(), state.promptTokens())) {
            return "the checkpoint's prompt (" + state.promptTokens().length + " tokens) is not this job's ("
                    + spec.prompt().length + " tokens)";
        }
        int[] held = state.generatedTokens();
        for (int seq = 0; seq < Math.min(held.length, delivered.length); seq++) {
            if (held[seq] != delivered[seq]) {
                return "the checkpoint (up to seq " + (held.length - 1) + ") has token " + held[seq] + " at seq " + seq
                        + " where the client received " + delivered[seq];
            }
        }
        return null;
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
                finish(running, ending(running.generation.finishReason()), null);
            }
        }
    }

    private static JobOutcome.Ending ending(FinishReason reason) {
        return reason == FinishReason.STOP ? JobOutcome.Ending.STOP : JobOutcome.Ending.LENGTH;
    }

    /** Periodic checkpoints: after {@code checkpointEveryTokens} tokens or {@code checkpointInterval}, whichever comes first. */
    private void checkpointDue() {
        if (!config.checkpointsPeriodically()) return;
        long now = System.nanoTime();
        for (Running running : active) {
            int since = running.generation.generatedCount() - running.checkpointedCount;
            if (since == 0) continue;
            boolean byTokens = config.checkpointEveryTokens() > 0 && since >= config.checkpointEveryTokens();
            boolean byTime = config.checkpointInterval().isPositive()
                    && now - running.checkpointedAt >= config.checkpointInterval().toNanos();
            if (byTokens || byTime) takeCheckpoint(running);
        }
    }

    private void takeCheckpoint(Running running) {
        // A skipped checkpoint counts as taken, so the next one is due a whole interval later, not at the next step.
        running.checkpointedCount = running.generation.generatedCount();
        running.checkpointedAt = System.nanoTime();
        if (!wanted(running, false)) return;
        TakenCheckpoint checkpoint = serialize(running);
        try {
            if (checkpoint == null) {
                running.listener.onCheckpointFailed();
            } else {
                running.listener.onCheckpoint(checkpoint);
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the listener of job " + running.spec.jobId() + " failed on a checkpoint", e);
        }
    }

    /** Whether the job's listener wants the checkpoint about to be taken; one that fails to answer gets none. */
    private static boolean wanted(Running running, boolean leaving) {
        try {
            return running.listener.checkpointWanted(leaving);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the listener of job " + running.spec.jobId() + " failed on checkpointWanted", e);
            return false;
        }
    }

    /** The job's checkpoint, or null (logged) when it cannot be written: the job is then recomputed if it moves. */
    private TakenCheckpoint serialize(Running running) {
        long t0 = System.nanoTime();
        running.checkpointedCount = running.generation.generatedCount();
        running.checkpointedAt = t0;
        if (!(running.sequence.cache() instanceof OffHeapKvCache cache)) {
            LOG.log(System.Logger.Level.WARNING, "job " + running.spec.jobId() + ": its cache cannot be checkpointed");
            return null;
        }
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 8, cache.bytesRetained() + 65_536));
            CheckpointCodec.write(bytes, model.identity(), cache, running.generation.snapshot());
            return new TakenCheckpoint(running.generation.generatedCount() - 1L, bytes.toByteArray(), cache.bytesRetained(),
                    fullBytes(cache), System.nanoTime() - t0);
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            LOG.log(System.Logger.Level.WARNING, "job " + running.spec.jobId() + ": checkpoint failed", e);
            return null;
        }
    }

    private static long fullBytes(OffHeapKvCache cache) {
        long full = 0;
        long bytesPerToken = cache.layout().bytesPerTokenPerLayer();
        for (int l = 0; l < cache.layout().layers(); l++) full += cache.fullLength(l) * bytesPerToken;
        return full;
    }

    private void preemptRunning(Running running, PreemptReason reason) {
        TakenCheckpoint checkpoint = reason == PreemptReason.LOST || !wanted(running, true) ? null : serialize(running);
        active.remove(running);
        running.sequence.close();
        known.remove(running.spec.jobId());
        notifyPreempted(running.spec.jobId(), running.listener, reason, checkpoint);
    }

    /**
     * Over the KV budget, or a queued job of higher priority waiting for a slot or for memory: preempt the weakest
     * active job (lowest priority, then youngest). A job alone is never preempted for memory: it would only come back.
     */
    private void relieveMemory() {
        while (config.kvBudgetBytes() > 0 && active.size() > 1 && kvBytesHeld() > config.kvBudgetBytes()) {
            preemptRunning(weakest(), PreemptReason.MEMORY);
        }
        Waiting head;
        lock.lock();
        try {
            head = queue.peek();
        } finally {
            lock.unlock();
        }
        if (head == null || active.isEmpty()) return;
        Running weakest = weakest();
        boolean blocked = active.size() >= config.maxActiveJobs() || !fits(head);
        if (blocked && head.spec().priority() > weakest.spec.priority()) preemptRunning(weakest, PreemptReason.MEMORY);
    }

    private Running weakest() {
        return active.stream()
                .min(Comparator.comparingInt((Running r) -> r.spec.priority()).thenComparingLong(r -> -r.arrival))
                .orElseThrow();
    }

    private long kvBytesHeld() {
        long held = 0;
        for (Running running : active) {
            KvCache cache = running.sequence.cache();
            held += cache instanceof OffHeapKvCache offHeap ? offHeap.bytesRetained() : cache.bytesHeld();
        }
        return held;
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

    private static void notifyPreempted(String jobId, JobListener listener, PreemptReason reason, TakenCheckpoint checkpoint) {
        try {
            listener.onPreempted(reason, checkpoint);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the listener of job " + jobId + " failed on its preemption", e);
        }
    }

    private void publishSnapshot() {
        long retained = 0;
        long full = 0;
        for (Running running : active) {
            KvCache cache = running.sequence.cache();
            if (cache instanceof OffHeapKvCache offHeap) {
                retained += offHeap.bytesRetained();
                full += fullBytes(offHeap);
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

    private record Waiting(JobSpec spec, JobListener listener, Resumption resumption, long arrival) {}

    private record Command(String jobId, Kind kind, PreemptReason reason) {
        enum Kind { CANCEL, PREEMPT, CHECKPOINT }
    }

    /** An active job; it hears its own generation's tokens and hands them to the job's listener. */
    private static final class Running implements TokenListener {
        final JobSpec spec;
        final JobListener listener;
        final long arrival;
        Sequence sequence;
        Generation generation;
        String trailingText = "";
        int checkpointedCount;
        long checkpointedAt;

        Running(JobSpec spec, JobListener listener, long arrival) {
            this.spec = spec;
            this.listener = listener;
            this.arrival = arrival;
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
