package dev.lethe.engine.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A fixed set of threads that run one data-parallel job at a time together with the calling thread. It
 * exists because the ForkJoin common pool has {@code availableProcessors - 1} threads, a single one on a
 * two-core machine, and a decode step is a long series of short, memory-bound products that want every core
 * and a cheap hand-off between them.
 *
 * <p>Idle workers spin briefly before parking: consecutive products of a decode step come microseconds apart,
 * and waking a parked thread costs about as much as a small product.
 */
final class WorkerPool {
    private static final long SPIN_NANOS = 50_000;
    private static final WorkerPool SHARED = new WorkerPool(threadCount());

    private final int threads;
    private final Thread[] workers;
    private volatile Job job;

    WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("a worker pool needs at least one thread, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("lethe-matvec-" + (i + 1)).start(this::workLoop);
        }
    }

    /** The pool the engine shares: {@code -Dlethe.threads=N} threads, by default one per available processor. */
    static WorkerPool shared() {
        return SHARED;
    }

    private static int threadCount() {
        String configured = System.getProperty("lethe.threads");
        if (configured == null) return Runtime.getRuntime().availableProcessors();
        try {
            int n = Integer.parseInt(configured.trim());
            if (n >= 1) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("system property lethe.threads must be a positive integer, got '" + configured + "'");
    }

    /** Number of threads a job runs on, the caller included. */
    int threads() {
        return threads;
    }

    /**
     * Runs {@code task.accept(i)} for every {@code i < tasks}, spread over the pool's threads and the caller, and
     * returns when all have finished. Rethrows the first exception a task threw. One job at a time: concurrent
     * callers take turns.
     */
    synchronized void run(int tasks, IntConsumer task) {
        Job j = new Job(tasks, task, Thread.currentThread());
        job = j;
        for (Thread w : workers) LockSupport.unpark(w);
        j.work();
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (j.remaining.get() > 0) {
            if (System.nanoTime() < spinUntil) Thread.onSpinWait();
            else LockSupport.park(this);
        }
        job = null; // lets the job's arrays be collected
        Throwable failure = j.failure.get();
        if (failure instanceof RuntimeException e) throw e;
        if (failure instanceof Error e) throw e;
        if (failure != null) throw new IllegalStateException(failure);
    }

    private void workLoop() {
        Job done = null;
        while (true) {
            Job j;
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while ((j = job) == null || j == done) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            j.work();
            done = j;
        }
    }

    private static final class Job {
        final int tasks;
        final IntConsumer task;
        final Thread owner;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger remaining;
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(int tasks, IntConsumer task, Thread owner) {
            this.tasks = tasks;
            this.task = task;
            this.owner = owner;
            this.remaining = new AtomicInteger(tasks);
        }

        void work() {
            int t;
            while ((t = next.getAndIncrement()) < tasks) {
                try {
                    task.accept(t);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
                if (remaining.decrementAndGet() == 0) LockSupport.unpark(owner);
            }
        }
    }
}
