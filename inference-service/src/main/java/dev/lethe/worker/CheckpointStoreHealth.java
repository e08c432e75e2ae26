package dev.lethe.worker;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.time.Clock;
import java.time.Instant;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * Whether checkpoints reach the store, as the circuit breaker around it sees the latest writes: UP while the
 * circuit is closed, DOWN while it is open (checkpoints are skipped), UNKNOWN once the open circuit's wait is
 * over (or it is half-open): the next checkpoint will tell. In no probe group: jobs keep decoding without
 * checkpoints, and neither a restart nor taking the worker out of service would bring the store back. The
 * details say which store, the breaker's counts, the latest failure and how many owned jobs it affects.
 */
final class CheckpointStoreHealth implements HealthIndicator {
    private final Checkpoints checkpoints;
    private final OwnedJobs jobs;
    private final Clock clock;

    CheckpointStoreHealth(Checkpoints checkpoints, OwnedJobs jobs, Clock clock) {
        this.checkpoints = checkpoints;
        this.jobs = jobs;
        this.clock = clock;
    }

    @Override
    public Health health() {
        CircuitBreaker.State circuit = checkpoints.circuit();
        Instant since = checkpoints.circuitSince();
        Instant retryAt = since.plusMillis(checkpoints.openForMillis());
        Health.Builder health = switch (circuit) {
            case CLOSED -> Health.up();
            case OPEN -> clock.instant().isBefore(retryAt) ? Health.down().withDetail("retryAt", retryAt.toString())
                    : Health.unknown().withDetail("retry", "the next checkpoint tries the store again");
            case HALF_OPEN -> Health.unknown().withDetail("retry", "the next checkpoint tries the store again");
            default -> Health.unknown();
        };
        CircuitBreaker.Metrics m = checkpoints.circuitMetrics();
        health.withDetail("store", checkpoints.describe())
                .withDetail("circuit", circuit.name())
                .withDetail("circuitSince", since.toString())
                .withDetail("latestWrites", m.getNumberOfBufferedCalls())
                .withDetail("latestWritesFailed", m.getNumberOfFailedCalls())
                .withDetail("jobsFailing", jobs.checkpointsFailing());
        Instant stored = checkpoints.lastStored();
        if (stored != null) health.withDetail("lastStoredAt", stored.toString());
        Checkpoints.Failure failure = checkpoints.lastFailure();
        if (failure != null) {
            health.withDetail("lastFailureAt", failure.at().toString())
                    .withDetail("lastFailure", failure.reason().tag() + ": " + failure.message());
        }
        return health.build();
    }
}
