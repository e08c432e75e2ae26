package dev.lethe.gateway.api;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Signal;

/**
 * Adds SSE comment lines to a stream while it is idle, so that proxies and clients do not drop a
 * connection while a job waits in the queue or prefills a long prompt.
 */
public final class Heartbeats {

    public static final String COMMENT = "keep-alive";

    private Heartbeats() {
    }

    /** {@code events}, with a comment whenever nothing was sent for about {@code interval}; ends with them. */
    public static <T> Flux<ServerSentEvent<T>> whileIdle(Flux<ServerSentEvent<T>> events, Duration interval) {
        return events.publish(shared -> {
            AtomicLong lastSent = new AtomicLong(System.nanoTime());
            // Ticks twice per interval, so that an idle stream is never silent for much longer than the interval.
            long half = Math.max(1, interval.toNanos() / 2);
            Flux<ServerSentEvent<T>> beats = Flux.interval(Duration.ofNanos(half), Duration.ofNanos(half))
                    .filter(tick -> System.nanoTime() - lastSent.get() >= interval.toNanos() - half / 2)
                    .map(tick -> ServerSentEvent.<T>builder().comment(COMMENT).build())
                    .doOnNext(beat -> lastSent.set(System.nanoTime()))
                    .takeUntilOther(shared.materialize().filter(signal -> !signal.isOnNext()).map(Signal::getType));
            return Flux.merge(shared.doOnNext(event -> lastSent.set(System.nanoTime())), beats);
        });
    }
}
