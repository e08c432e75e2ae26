package dev.lethe.engine.scheduler;

/** A job was submitted while the queue held as many jobs as it may; the caller should hold back and retry. */
public final class QueueFullException extends RuntimeException {
    public QueueFullException(int capacity) {
        super("the job queue is full (" + capacity + " jobs waiting)");
    }
}
