package dev.lethe.worker;

import dev.lethe.engine.scheduler.ContinuousBatchScheduler;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.listener.MessageListenerContainer;

/**
 * Stops reading {@code lethe.requests} while the scheduler's queue is full and starts again when it has room,
 * so that requests wait in Kafka (where another worker could take them) rather than in this worker's memory.
 * The container pauses after the record in hand ({@code pauseImmediate}); records already fetched are read
 * again after the resume.
 */
final class BackPressure {
    static final String REQUESTS_LISTENER = "lethe-requests";

    private final KafkaListenerEndpointRegistry registry;
    private final Runnable onPause;
    private volatile boolean paused;

    /** @param onPause counts the pauses (metrics) */
    BackPressure(KafkaListenerEndpointRegistry registry, Runnable onPause) {
        this.registry = registry;
        this.onPause = onPause;
    }

    /**
     * On the consumer thread, after a job was queued. Pauses when the queue is full; then looks again, since the
     * decode thread may have made room (and called {@link #resume}) between the first look and the pause.
     */
    void pauseIfFull(ContinuousBatchScheduler scheduler) {
        if (scheduler.hasRoom()) return;
        paused = true;
        container().pause();
        onPause.run();
        if (scheduler.hasRoom()) resume();
    }

    /** On the decode thread, when the full queue has room again. */
    void resume() {
        paused = false;
        container().resume();
    }

    boolean paused() {
        return paused;
    }

    private MessageListenerContainer container() {
        MessageListenerContainer container = registry.getListenerContainer(REQUESTS_LISTENER);
        if (container == null) throw new IllegalStateException("no listener container '" + REQUESTS_LISTENER + "'");
        return container;
    }
}
