package dev.lethe.gateway.api;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Signal;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

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
        // Time comes from the scheduler that ticks, so that tests can run it on virtual time.
        Scheduler clock = Schedulers.parallel();
        return events.publish(shared -> {
            AtomicLong lastSent = new AtomicLong(clock.now(TimeUnit.NANOSECONDS));
            // Ticks twice per interval, so that an idle stream is never silent for much longer than the interval.
            long half = Math.max(1, interval.toNanos() / 2);
            Flux<ServerSentEvent<T>> beats = Flux.interval(Duration.ofNanos(half), Duration.ofNanos(half), clock)
                    .filter(tick -> clock.now(TimeUnit.NANOSECONDS) - lastSent.get() >= interval.toNanos() - half / 2)
                    .map(tick -> ServerSentEvent.<T>builder().comment(COMMENT).build())
                    .doOnNext(beat -> lastSent.set(clock.now(TimeUnit.NANOSECONDS)))
                    .takeUntilOther(shared.materialize().filter(signal -> !signal.isOnNext()).map(Signal::getType));
            return Flux.merge(shared.doOnNext(event -> lastSent.set(clock.now(TimeUnit.NANOSECONDS))), beats);
        });
    }
}
