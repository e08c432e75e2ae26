package dev.lethe.schemas;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * The topics of Lethe and their settings, in one place. Every topic is keyed by job id.
 * {@link #REQUESTS}, {@link #JOBS}, {@link #CHECKPOINTS} and {@link #CONTROL} must have the same
 * partition count, so that a job's request, state, checkpoints and commands share a partition number
 * and the worker that owns partition p of the requests owns all of them.
 */
public final class Topics {

    public static final String REQUESTS = "lethe.requests";
    public static final String TOKENS = "lethe.tokens";
    public static final String JOBS = "lethe.jobs";
    public static final String CHECKPOINTS = "lethe.checkpoints";
    public static final String CONTROL = "lethe.control";
    public static final String DLQ = "lethe.dlq";

    /** Partitions when not configured otherwise: the most workers that can share the load. */
    public static final int DEFAULT_PARTITIONS = 12;

    private static final long HOUR_MS = 3_600_000L;
    private static final long DAY_MS = 24 * HOUR_MS;

    /** A topic's name, its event type (none for the DLQ, which holds any bytes) and its configs. */
    public record Spec(String name, Optional<EventType> eventType, boolean coPartitioned, Map<String, String> configs) {

        public NewTopic newTopic(int partitions, short replicationFactor) {
            return new NewTopic(name, partitions, replicationFactor).configs(configs);
        }
    }

    /**
     * All topics. Retention, and why:
     * requests 7 days (their state lives in the compacted topics once accepted; kept for replay and audit);
     * tokens 3 days (a new owner replays the tokens after a checkpoint, and clients resume streams; must
     * outlive the longest job); jobs and checkpoints compacted (latest value per job, forever, until a
     * tombstone; tombstones kept a day so slow readers see them); control 1 day (commands only matter
     * to running jobs); DLQ 14 days (time for a person to look).
     */
    public static final List<Spec> ALL = List.of(
            new Spec(REQUESTS, Optional.of(EventType.JOB_REQUEST), true,
                    Map.of("cleanup.policy", "delete", "retention.ms", Long.toString(7 * DAY_MS))),
            new Spec(TOKENS, Optional.of(EventType.TOKEN_CHUNK), false,
                    Map.of("cleanup.policy", "delete", "retention.ms", Long.toString(3 * DAY_MS),
                            "segment.ms", Long.toString(6 * HOUR_MS))),
            new Spec(JOBS, Optional.of(EventType.JOB_STATUS), true,
                    Map.of("cleanup.policy", "compact", "delete.retention.ms", Long.toString(DAY_MS))),
            new Spec(CHECKPOINTS, Optional.of(EventType.CHECKPOINT_MANIFEST), true,
                    Map.of("cleanup.policy", "compact", "delete.retention.ms", Long.toString(DAY_MS))),
            new Spec(CONTROL, Optional.of(EventType.CONTROL), true,
                    Map.of("cleanup.policy", "delete", "retention.ms", Long.toString(DAY_MS))),
            new Spec(DLQ, Optional.empty(), false,
                    Map.of("cleanup.policy", "delete", "retention.ms", Long.toString(14 * DAY_MS))));

    private Topics() {
    }

    public static Spec spec(String name) {
        return ALL.stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("not a Lethe topic: " + name));
    }

    /** Every topic with the same partition count, which keeps the co-partitioned ones aligned. */
    public static List<NewTopic> newTopics(int partitions, short replicationFactor) {
        return ALL.stream().map(s -> s.newTopic(partitions, replicationFactor)).toList();
    }
}
