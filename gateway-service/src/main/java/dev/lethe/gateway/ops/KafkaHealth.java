package dev.lethe.gateway.ops;

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
 * Whether the gateway can reach Kafka: an admin client's {@code describeCluster}, answered within
 * {@code timeout}. Part of the readiness group, so that a gateway cut off from Kafka (which could
 * neither queue a job nor stream one) is taken out of its Service until the broker is back.
 *
 * <p>The answer is kept for {@code cacheFor}: probes of several kinds and Prometheus scrapes must not
 * each cost a round trip, and while the broker is away each probe would otherwise wait the whole
 * timeout. The admin client is built from {@code spring.kafka.admin} and {@code spring.kafka.properties},
 * so it uses the same security settings as every other client.
 */
public final class KafkaHealth implements HealthIndicator, AutoCloseable {

    private record Answer(Health health, long atNanos) {
    }

    private final Map<String, Object> config;
    private final Admin admin;
    private final Duration timeout;
    private final Duration cacheFor;
    private volatile Answer last;

    public KafkaHealth(Map<String, Object> adminConfig, Duration timeout, Duration cacheFor) {
        this.config = Map.copyOf(adminConfig);
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
            DescribeClusterResult cluster = admin.describeCluster(
                    new DescribeClusterOptions().timeoutMs((int) timeout.toMillis()));
            String clusterId = cluster.clusterId().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            int brokers = cluster.nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS).size();
            return Health.up().withDetail("clusterId", clusterId).withDetail("brokers", brokers).build();
        } catch (TimeoutException e) {
            return Health.down().withDetail("error", "no answer from Kafka within " + timeout).build();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            return Health.down().withDetail("error", cause.getClass().getSimpleName() + ": " + cause.getMessage())
                    .build();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Health.unknown().withDetail("error", "interrupted").build();
        }
    }

    /** The admin client's configuration: what {@code spring.kafka.*} gave it. */
    public Map<String, Object> clientConfig() {
        return config;
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(2));
    }
}
