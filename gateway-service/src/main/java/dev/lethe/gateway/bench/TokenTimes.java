package dev.lethe.gateway.bench;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * When each token of each job was written to {@code lethe.tokens} by the {@link Pacer}, and when a plain
 * Kafka consumer in this JVM first read it ({@link KafkaWatch}): {@link System#nanoTime} values, 0 while
 * unknown, indexed by job and seq. The gap between the second and a client's receipt is what the
 * gateway adds; the gap between the first and the second is Kafka's share.
 */
final class TokenTimes {

    private final Map<String, Integer> jobIndex;
    private final AtomicLongArray[] sent;
    private final AtomicLongArray[] seen;

    TokenTimes(List<String> jobIds, int tokensPerJob) {
        this.jobIndex = IntStream.range(0, jobIds.size()).boxed()
                .collect(Collectors.toUnmodifiableMap(jobIds::get, Function.identity()));
        this.sent = new AtomicLongArray[jobIds.size()];
        this.seen = new AtomicLongArray[jobIds.size()];
        for (int i = 0; i < jobIds.size(); i++) {
            sent[i] = new AtomicLongArray(tokensPerJob);
            seen[i] = new AtomicLongArray(tokensPerJob);
        }
    }

    /** The job's index, or -1 for a job this bench did not start. */
    int indexOf(String jobId) {
        return jobIndex.getOrDefault(jobId, -1);
    }

    void sent(int job, long seq, long nanos) {
        sent[job].set((int) seq, nanos);
    }

    /** Keeps the first sighting: a repeat read of the same record must not move it. */
    void seen(int job, long seq, long nanos) {
        seen[job].compareAndSet((int) seq, 0, nanos);
    }

    long sentAt(int job, long seq) {
        return sent[job].get((int) seq);
    }

    long seenAt(int job, long seq) {
        return seen[job].get((int) seq);
    }
}
