package dev.lethe.engine.scheduler;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The decode thread: runs {@link ContinuousBatchScheduler#step} while there is work and sleeps until a job or a
 * command arrives when there is none. It is the only thread that touches the engine.
 */
public final class DecodeLoop implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(DecodeLoop.class.getName());
    /** How often a held-back loop looks again: short next to a stall worth holding back for. */
    private static final long HOLD_POLL_MILLIS = 20;

    private final ContinuousBatchScheduler scheduler;
    private final Thread thread;
    private final long minStepNanos;
    private final BooleanSupplier holdBack;
    private volatile boolean running = true;
    private volatile Throwable lastError;

    public DecodeLoop(ContinuousBatchScheduler scheduler, String threadName) {
        this(scheduler, threadName, Duration.ZERO, () -> false);
    }

    /**
     * @param minStepTime each step lasts at least this long (a demonstration's brake for tiny models; zero: none)
     * @param holdBack    while it answers true no step runs: the jobs' output cannot go anywhere (its writer is
     *                    behind), and decoding on would only pile it up in memory
     */
    public DecodeLoop(ContinuousBatchScheduler scheduler, String threadName, Duration minStepTime, BooleanSupplier holdBack) {
        this.scheduler = scheduler;
        this.minStepNanos = minStepTime.toNanos();
        this.holdBack = holdBack;
        this.thread = Thread.ofPlatform().name(threadName).unstarted(this::run);
    }

    public void start() {
        thread.start();
    }

    /** Whether the thread is running (false before {@link #start} and after {@link #close}). */
    public boolean alive() {
        return thread.isAlive();
    }

    /** The last error a step threw (a bug: job failures are reported to their listeners), or null. */
    public Throwable lastError() {
        return lastError;
    }

    private void run() {
        while (running) {
            try {
                if (holdBack.getAsBoolean()) {
                    Thread.sleep(HOLD_POLL_MILLIS);
                    continue;
                }
                long t0 = System.nanoTime();
                if (!scheduler.step()) {
                    scheduler.awaitWork(1, TimeUnit.SECONDS);
                } else if (minStepNanos > 0) {
                    long left = minStepNanos - (System.nanoTime() - t0);
                    if (left > 0) Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException | Error e) {
                // A step that throws is a bug; keep serving the other jobs, and let health checks see it.
                lastError = e;
                LOG.log(System.Logger.Level.ERROR, "decode step failed", e);
                pause();
            }
        }
        scheduler.close();
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops after the step in progress and releases the active jobs' memory. */
    @Override
    public void close() {
        running = false;
        scheduler.wakeUp();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
