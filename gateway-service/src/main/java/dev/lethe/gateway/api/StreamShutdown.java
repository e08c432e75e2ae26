package dev.lethe.gateway.api;

import org.springframework.boot.web.server.context.WebServerGracefulShutdownLifecycle;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;

/**
 * Ends every open stream when the gateway stops, just before the web server's graceful shutdown.
 * Streams never end by themselves while their jobs run, so without this a graceful shutdown would wait
 * its whole timeout and then cut them. Ended early, a job's stream has no {@code done} event, and its
 * client resumes it at another gateway with {@code starting_after} (or {@code Last-Event-ID}).
 */
@Component
public class StreamShutdown implements SmartLifecycle {

    private final Sinks.Empty<Void> stopping = Sinks.empty();
    private volatile boolean running;

    /** {@code stream}, ending (completing) when the gateway stops. */
    public <T> Flux<T> endOnShutdown(Flux<T> stream) {
        return stream.takeUntilOther(stopping.asMono());
    }

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        stopping.tryEmitEmpty();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Stops before the web server's graceful shutdown, which waits for open requests. */
    @Override
    public int getPhase() {
        return WebServerGracefulShutdownLifecycle.SMART_LIFECYCLE_PHASE + 1;
    }
}
