package dev.lethe.worker;

import dev.lethe.schemas.Topics;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.kafka.listener.ConsumerAwareRebalanceListener;

/**
 * Kafka's consumer group as the cluster manager (DESIGN §3): the worker that owns partition p of
 * {@code lethe.requests} owns every unfinished job of p. Called on the requests consumer's thread, between polls,
 * with cooperative-sticky rebalancing (only the partitions that move are revoked and assigned):
 * assigned partitions have their jobs taken over before their first request is read; revoked ones have their
 * running jobs checkpointed and marked PREEMPTED within the hand-over timeout before they go; lost ones (the
 * group moved on without this worker) have their jobs dropped without a word, since someone else owns them now.
 */
final class PartitionOwnership implements ConsumerAwareRebalanceListener {
    private static final Logger log = LoggerFactory.getLogger(PartitionOwnership.class);

    private final TakeOver takeOver;
    private final OwnedJobs jobs;
    private final ControlReader control;
    private final Duration handoverTimeout;
    private final Set<Integer> owned = new TreeSet<>();

    PartitionOwnership(TakeOver takeOver, OwnedJobs jobs, ControlReader control, Duration handoverTimeout) {
        this.takeOver = takeOver;
        this.jobs = jobs;
        this.control = control;
        this.handoverTimeout = handoverTimeout;
    }

    synchronized Set<Integer> owned() {
        return Set.copyOf(owned);
    }

    @Override
    public void onPartitionsAssigned(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        List<Integer> added = requests(partitions);
        if (added.isEmpty()) return;
        synchronized (this) {
            owned.addAll(added);
            control.follow(owned);
        }
        log.info("assigned {} partitions {}; now owning {}", Topics.REQUESTS, added, owned());
        try {
            takeOver.takeOver(added);
        } catch (RuntimeException e) {
            // Requests of these partitions still run; jobs not taken over wait for the next owner (or a restart).
            log.error("taking over the jobs of partitions {} failed", added, e);
        }
    }

    @Override
    public void onPartitionsRevokedBeforeCommit(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        List<Integer> removed = requests(partitions);
        if (removed.isEmpty()) return;
        long t0 = System.nanoTime();
        List<String> unsettled = jobs.handOver(removed, handoverTimeout);
        synchronized (this) {
            owned.removeAll(removed);
            control.follow(owned);
        }
        log.info("revoked {} partitions {}: jobs handed over in {} ms{}", Topics.REQUESTS, removed,
                (System.nanoTime() - t0) / 1_000_000, unsettled.isEmpty() ? "" : "; not settled in time: " + unsettled);
    }

    @Override
    public void onPartitionsLost(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        List<Integer> lost = requests(partitions);
        if (lost.isEmpty()) return;
        jobs.lose(lost);
        synchronized (this) {
            owned.removeAll(lost);
            control.follow(owned);
        }
        log.warn("lost {} partitions {}: their jobs were dropped here (their next owner resumes them)", Topics.REQUESTS, lost);
    }

    private static List<Integer> requests(Collection<TopicPartition> partitions) {
        return partitions.stream().filter(tp -> tp.topic().equals(Topics.REQUESTS)).map(TopicPartition::partition).toList();
    }
}
