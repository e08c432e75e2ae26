package dev.lethe.worker.dev;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What {@code lethe up} has started, stopped together by one shutdown hook that is registered before anything
 * starts. A child JVM is spawned under the same lock the stop takes, so a stop (Ctrl-C, SIGTERM) that comes while
 * the rest is still starting either finds the child and stops it, or comes first and the child is never spawned:
 * no gateway or worker JVM outlives {@code lethe up}. (Registering the hook after the children had started
 * left a gateway running when the stop came during start-up: the JVM refuses new hooks once it shuts down.)
 */
final class LocalStack {
    /** How long the gateway gets to stop before it is killed. */
    static final long GATEWAY_GRACE_SECONDS = 15;
    /** Workers hand their jobs over (checkpointed) before they exit: they get longer. */
    static final long WORKER_GRACE_SECONDS = 40;

    private final PrintStream err;
    private final List<Process> workers = new ArrayList<>();
    private final List<Process> gateways = new ArrayList<>();
    private final List<AutoCloseable> inProcess = new ArrayList<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private boolean stopping;

    private LocalStack(PrintStream err) {
        this.err = err;
    }

    /** A stack whose {@link #stop()} runs when this JVM shuts down. */
    static LocalStack withShutdownHook(PrintStream err) {
        LocalStack stack = new LocalStack(err);
        Runtime.getRuntime().addShutdownHook(new Thread(stack::stop, "lethe-up-shutdown"));
        return stack;
    }

    /** For tests: a stack that only stops when told to. */
    static LocalStack withoutShutdownHook(PrintStream err) {
        return new LocalStack(err);
    }

    /** Starts a worker JVM, unless the stack is stopping (then throws {@link Stopping}). */
    Process spawnWorker(ProcessBuilder command) {
        return spawn(command, workers);
    }

    /** Starts the gateway JVM, unless the stack is stopping (then throws {@link Stopping}). */
    Process spawnGateway(ProcessBuilder command) {
        return spawn(command, gateways);
    }

    private synchronized Process spawn(ProcessBuilder command, List<Process> into) {
        if (stopping) throw new Stopping();
        try {
            Process p = command.start();
            into.add(p);
            return p;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + command.command() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Adopts something that runs in this JVM (the broker, an in-process worker), to be closed after the children,
     * in the reverse order of adoption. If the stack is already stopping it is closed at once and {@link Stopping}
     * is thrown.
     */
    void adopt(AutoCloseable part) {
        synchronized (this) {
            if (!stopping) {
                inProcess.add(part);
                return;
            }
        }
        closeQuietly(part);
        throw new Stopping();
    }

    /** Stops everything once: the gateway, then the workers (they hand their jobs over), then what runs in-process. */
    void stop() {
        List<Process> gatewaysNow, workersNow;
        List<AutoCloseable> inProcessNow;
        synchronized (this) {
            if (stopping) return;
            stopping = true;
            gatewaysNow = List.copyOf(gateways);
            workersNow = List.copyOf(workers);
            inProcessNow = new ArrayList<>(inProcess);
        }
        err.println("lethe: stopping ...");
        stopAll(gatewaysNow, GATEWAY_GRACE_SECONDS);
        stopAll(workersNow, WORKER_GRACE_SECONDS);
        for (int i = inProcessNow.size() - 1; i >= 0; i--) closeQuietly(inProcessNow.get(i));
        stopped.countDown();
    }

    private static void stopAll(List<Process> processes, long graceSeconds) {
        for (Process p : processes) p.destroy();
        for (Process p : processes) {
            try {
                if (!p.waitFor(graceSeconds, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        }
    }

    private void closeQuietly(AutoCloseable part) {
        try {
            part.close();
        } catch (Exception e) {
            err.println("lethe: stopping " + part + ": " + e.getMessage());
        }
    }

    /** Waits until {@link #stop()} has finished. */
    void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    /** Thrown when a part would start after the stop began. */
    static final class Stopping extends RuntimeException {
        Stopping() {
            super("lethe up is stopping");
        }
    }
}
