package dev.lethe.worker;

import dev.lethe.engine.scheduler.DecodeLoop;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * Whether the engine can still make progress at all: its decode thread and its stream publisher thread
 * are running. In the liveness group, since a worker whose decode thread died never recovers on its own
 * and should be restarted (its jobs resume elsewhere); unlike {@link WorkerHealth}, it does not count
 * failing Kafka writes, which pass when the broker is back.
 */
final class EngineHealth implements HealthIndicator {
    private final DecodeLoop decodeLoop;
    private final StreamPublisher publisher;

    EngineHealth(DecodeLoop decodeLoop, StreamPublisher publisher) {
        this.decodeLoop = decodeLoop;
        this.publisher = publisher;
    }

    @Override
    public Health health() {
        boolean decoding = decodeLoop.alive();
        boolean publishing = publisher.alive();
        Health.Builder health = decoding && publishing ? Health.up() : Health.down();
        health.withDetail("decodeThread", decoding ? "running" : "stopped")
                .withDetail("publisherThread", publishing ? "running" : "stopped");
        Throwable error = decodeLoop.lastError();
        if (error != null) health.withDetail("lastDecodeError", error.toString());
        return health.build();
    }
}
