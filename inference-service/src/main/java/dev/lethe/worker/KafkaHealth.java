package dev.lethe.worker;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * Whether the worker can reach Kafka: an admin client's {@code describeCluster} answered within
 * {@code timeout}, the answer kept for {@code cacheFor} so that probes and scrapes do not each cost a
 * round trip (or, while the broker is away, the whole timeout). In the readiness group: a worker cut off
 * from Kafka takes no jobs and streams none, but it is not restarted for it (liveness), since its jobs
 * keep their state and carry on when the broker is back. Built from {@code spring.kafka.*}, so it uses
 * the same security settings as the worker's other clients.
 */
final class KafkaHealth implements HealthIndicator, AutoCloseable {

    private record Answer(Health health, long atNanos) {}

    private final Admin admin;
    private final Duration timeout;
    private final Duration cacheFor;
    private volatile Answer last;

    KafkaHealth(Map<String, Object> adminConfig, Duration timeout, Duration cacheFor) {
        this.admin = Admin.create(adminConfig);
        this.timeout = timeout;
        this.cacheFor = cacheFor;
    }

    @Override
    public Health health() {
        Answer answer = last;
        if (answer == null || System.nanoTime() - answer.atNanos() >= cacheFor.toNanos()) {
            synchronized (this) {
                answer = last;
                if (answer == null || System.nanoTime() - answer.atNanos() >= cacheFor.toNanos()) {
                    answer = new Answer(ask(), System.nanoTime());
                    last = answer;
                }
            }
        }
        return answer.health();
    }

    private Health ask() {
        try {
            DescribeClusterResult cluster = admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) timeout.toMillis()));
            String clusterId = cluster.clusterId().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            int brokers = cluster.nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS).size();
            return Health.up().withDetail("clusterId", clusterId).withDetail("brokers", brokers).build();
        } catch (TimeoutException e) {
            return Health.down().withDetail("error", "no answer from Kafka within " + timeout).build();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            return Health.down().withDetail("error", cause.getClass().getSimpleName() + ": " + cause.getMessage()).build();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Health.unknown().withDetail("error", "interrupted").build();
        }
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(2));
    }
}
