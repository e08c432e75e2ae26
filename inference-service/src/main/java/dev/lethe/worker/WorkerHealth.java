package dev.lethe.worker;

import dev.lethe.engine.scheduler.ContinuousBatchScheduler;
import dev.lethe.engine.scheduler.DecodeLoop;
import dev.lethe.engine.scheduler.SchedulerSnapshot;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * DOWN when the worker cannot make progress: the decode or publisher thread is gone, or writes to Kafka keep
 * failing (the circuit is open). The details show the queue, the active jobs and the KV memory.
 */
final class WorkerHealth implements HealthIndicator {
    private final DecodeLoop decodeLoop;
    private final StreamPublisher publisher;
    private final ContinuousBatchScheduler scheduler;
    private final CircuitBreaker breaker;
    private final BackPressure backPressure;
    private final PartitionOwnership ownership;
    private final OwnedJobs jobs;

    WorkerHealth(DecodeLoop decodeLoop, StreamPublisher publisher, ContinuousBatchScheduler scheduler,
                 CircuitBreaker breaker, BackPressure backPressure, PartitionOwnership ownership, OwnedJobs jobs) {
        this.ownership = ownership;
        this.jobs = jobs;
        this.decodeLoop = decodeLoop;
        this.publisher = publisher;
        this.scheduler = scheduler;
        this.breaker = breaker;
        this.backPressure = backPressure;
    }

    @Override
    public Health health() {
        SchedulerSnapshot s = scheduler.snapshot();
        CircuitBreaker.State circuit = breaker.getState();
        boolean up = decodeLoop.alive() && publisher.alive() && circuit != CircuitBreaker.State.OPEN;
        Health.Builder health = up ? Health.up() : Health.down();
        health.withDetail("decodeThread", decodeLoop.alive() ? "running" : "stopped")
                .withDetail("publisherThread", publisher.alive() ? "running" : "stopped")
                .withDetail("kafkaWrites", circuit.name())
                .withDetail("queued", s.queued())
                .withDetail("active", s.active())
                .withDetail("requestsPaused", backPressure.paused())
                .withDetail("partitions", ownership.owned())
                .withDetail("ownedJobs", jobs.size())
                .withDetail("kvBytesRetained", s.kvBytesRetained())
                .withDetail("kvBytesFull", s.kvBytesFull());
        Throwable error = decodeLoop.lastError();
        if (error != null) health.withDetail("lastDecodeError", error.toString());
        return health.build();
    }
}
