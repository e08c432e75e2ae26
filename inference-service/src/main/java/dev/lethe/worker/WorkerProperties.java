package dev.lethe.worker;

import dev.lethe.store.S3Settings;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Pattern;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * {@code lethe.worker.*}. Every key has a default that works for one worker beside a local broker.
 *
 * @param id            this worker's name in job states and token chunks; blank means host name + process id
 * @param model         the GGUF model file
 * @param modelName     the name requests use for the model; blank means the file name without {@code .gguf}
 * @param maxActiveJobs jobs decoding at once
 * @param queueCapacity jobs accepted and waiting; when full, the worker stops reading requests until there is room
 * @param kv            the KV policy of jobs whose request names none
 * @param chunk         how tokens are grouped into {@code lethe.tokens} records
 * @param publish       retries and circuit breaker around writes to Kafka
 * @param topics        topic creation at start-up
 * @param controlGroup  consumer group whose offsets of {@code lethe.control} the workers commit (each reads the
 *                      partitions it owns; a new owner goes on from there); blank means {@code lethe-workers-control}
 * @param checkpoints   where checkpoints go, how often, and how long hand-overs may take
 * @param kvBudget      KV memory the active jobs may hold together; over it, jobs are preempted (lowest priority
 *                      first, then youngest) and resumed when there is room. 0 means no budget
 * @param minStepTime   each decode step lasts at least this long (0: as fast as it goes). For demonstrations with a
 *                      tiny model, whose jobs would otherwise end before anything can be done to them
 */
@ConfigurationProperties("lethe.worker")
public record WorkerProperties(
        @DefaultValue("") String id,
        Path model,
        @DefaultValue("") String modelName,
        @DefaultValue("4") int maxActiveJobs,
        @DefaultValue("16") int queueCapacity,
        @DefaultValue Kv kv,
        @DefaultValue Chunk chunk,
        @DefaultValue Publish publish,
        @DefaultValue TopicSetup topics,
        @DefaultValue("") String controlGroup,
        @DefaultValue Checkpointing checkpoints,
        @DefaultValue("0B") DataSize kvBudget,
        @DefaultValue("0ms") Duration minStepTime) {

    /** The schemas' pattern for worker ids. */
    private static final Pattern WORKER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");

    public WorkerProperties {
        if (model == null) throw new IllegalArgumentException("lethe.worker.model: the GGUF model file to serve is not set");
    }

    /** {@link #id}, or host name + process id when it is blank. */
    public String workerId() {
        if (!id.isBlank()) {
            if (!WORKER_ID.matcher(id).matches()) {
                throw new IllegalArgumentException("lethe.worker.id '" + id + "' is not a valid worker id (" + WORKER_ID + ")");
            }
            return id;
        }
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "worker";
        }
        String name = (host + "-" + ManagementFactory.getRuntimeMXBean().getPid()).replaceAll("[^A-Za-z0-9._:-]", "-");
        return name.length() > 128 ? name.substring(name.length() - 128) : name;
    }

    public String modelNameOrDefault() {
        if (!modelName.isBlank()) return modelName;
        String file = model.getFileName().toString();
        return file.endsWith(".gguf") ? file.substring(0, file.length() - ".gguf".length()) : file;
    }

    public String controlGroupOrDefault() {
        return controlGroup.isBlank() ? "lethe-workers-control" : controlGroup;
    }

    /**
     * @param store           a directory ({@code /var/lethe/checkpoints}, {@code file:/...}; shared by the workers, or
     *                        each worker's own when only graceful hand-overs between restarts matter) or
     *                        {@code s3://bucket/prefix}; blank means {@code <tmpdir>/lethe-checkpoints}
     * @param everyTokens     a running job is checkpointed after this many tokens since its last checkpoint (0: never)
     * @param every           ... or after this long (0: never), whichever comes first
     * @param handoverTimeout how long a revoked partition's jobs may take to be checkpointed before it goes anyway
     * @param preemptHold     how long a job preempted by a PREEMPT command waits before it may resume on this worker
     * @param flushTimeout    how long a preemption waits for the job's last tokens to be written
     * @param s3              the S3 connection, for an {@code s3://} store
     * @param breaker         the circuit breaker around writes to the store
     * @param maxPendingDeletes how many ended jobs may wait for the store to be back to delete their checkpoints
     *                        (past that the oldest is dropped, logged, and its blobs stay in the store)
     * @param retryDeletesEvery how often those deletions are tried again (they are also tried when the circuit closes)
     */
    public record Checkpointing(
            @DefaultValue("") String store,
            @DefaultValue("256") int everyTokens,
            @DefaultValue("30s") Duration every,
            @DefaultValue("20s") Duration handoverTimeout,
            @DefaultValue("10s") Duration preemptHold,
            @DefaultValue("10s") Duration flushTimeout,
            @DefaultValue S3 s3,
            @DefaultValue Breaker breaker,
            @DefaultValue("10000") int maxPendingDeletes,
            @DefaultValue("60s") Duration retryDeletesEvery) {

        public Checkpointing {
            if (maxPendingDeletes < 1) {
                throw new IllegalArgumentException("lethe.worker.checkpoints.max-pending-deletes must be at least 1, got "
                        + maxPendingDeletes);
            }
            if (retryDeletesEvery.isNegative() || retryDeletesEvery.isZero()) {
                throw new IllegalArgumentException("lethe.worker.checkpoints.retry-deletes-every must be positive, got "
                        + retryDeletesEvery);
            }
        }

        public String storeOrDefault() {
            return store.isBlank() ? Path.of(System.getProperty("java.io.tmpdir"), "lethe-checkpoints").toString() : store;
        }
    }

    /**
     * When {@code failureRate} percent of the latest {@code window} checkpoint writes failed, the circuit opens:
     * checkpoints are skipped at once for {@code openFor} (jobs keep decoding, and nothing waits on a dead store),
     * then one is let through to try the store again; if it is stored, the circuit closes.
     *
     * @param failureRate percentage of failed writes, over the latest {@code window}, that opens the circuit
     * @param window      how many of the latest writes count (the circuit never opens before that many)
     * @param openFor     how long an open circuit skips checkpoints before one tries the store again
     */
    public record Breaker(@DefaultValue("50") float failureRate, @DefaultValue("4") int window,
                          @DefaultValue("30s") Duration openFor) {
        public Breaker {
            if (!(failureRate > 0 && failureRate <= 100)) {
                throw new IllegalArgumentException("lethe.worker.checkpoints.breaker.failure-rate must be in (0, 100], got " + failureRate);
            }
            if (window < 1) {
                throw new IllegalArgumentException("lethe.worker.checkpoints.breaker.window must be at least 1, got " + window);
            }
            if (openFor.isNegative() || openFor.isZero()) {
                throw new IllegalArgumentException("lethe.worker.checkpoints.breaker.open-for must be positive, got " + openFor);
            }
        }
    }

    /**
     * @param endpoint        an S3-compatible server (MinIO, Ceph...); blank for AWS
     * @param region          signing region; blank for us-east-1
     * @param accessKeyId     with {@code secretAccessKey}: static credentials; blank for the SDK's default chain
     * @param attemptTimeout  how long one attempt of an S3 call may take (a hung store fails a checkpoint in bounded time)
     */
    public record S3(@DefaultValue("") String endpoint, @DefaultValue("") String region, @DefaultValue("") String accessKeyId,
                     @DefaultValue("") String secretAccessKey, @DefaultValue("20s") Duration attemptTimeout) {

        public S3Settings settings() {
            return new S3Settings(endpoint.isBlank() ? null : URI.create(endpoint), region.isBlank() ? null : region,
                    !endpoint.isBlank(), accessKeyId.isBlank() ? null : accessKeyId,
                    secretAccessKey.isBlank() ? null : secretAccessKey, attemptTimeout);
        }

        /** Never prints the secret. */
        @Override
        public String toString() {
            return "S3[endpoint=" + endpoint + ", region=" + region + ", accessKeyId=" + accessKeyId
                    + ", attemptTimeout=" + attemptTimeout + "]";
        }
    }

    /**
     * @param policy     a policy name of {@code lethe-cache} ({@code lethe}, {@code full}, {@code streamingllm}, ...)
     * @param parameters its parameters in {@code lethe-cache}'s names ({@code sparse-ratio}, {@code delta}, ...)
     */
    public record Kv(@DefaultValue("lethe") String policy, @DefaultValue Map<String, String> parameters) {}

    /**
     * A job's tokens go out when {@code maxTokens} are waiting or the oldest has waited {@code flushInterval},
     * whichever comes first; a record never holds more than {@code maxTokens} tokens.
     */
    public record Chunk(@DefaultValue("20ms") Duration flushInterval, @DefaultValue("16") int maxTokens) {
        public Chunk {
            if (flushInterval.isNegative() || flushInterval.isZero()) {
                throw new IllegalArgumentException("lethe.worker.chunk.flush-interval must be positive, got " + flushInterval);
            }
            if (maxTokens <= 0 || maxTokens > 4096) {
                throw new IllegalArgumentException("lethe.worker.chunk.max-tokens must be in 1..4096 (the schema's limit), got " + maxTokens);
            }
        }
    }

    /**
     * @param maxAttempts     attempts of one write before it is reported failed (and tried again later: nothing is dropped)
     * @param initialBackoff  wait before the second attempt; doubles each time up to {@code maxBackoff}
     * @param sendTimeout     how long one attempt waits for the broker's acknowledgement
     * @param failureRate     percentage of failed writes (over the last {@code window}) that opens the circuit
     * @param openFor         how long an open circuit refuses writes before trying again
     * @param maxBacklog      records that may wait unwritten before decoding holds back (bounds memory while Kafka is
     *                        down: a record is one chunk of tokens or one status)
     */
    public record Publish(
            @DefaultValue("6") int maxAttempts,
            @DefaultValue("100ms") Duration initialBackoff,
            @DefaultValue("5s") Duration maxBackoff,
            @DefaultValue("30s") Duration sendTimeout,
            @DefaultValue("50") float failureRate,
            @DefaultValue("10") int window,
            @DefaultValue("10s") Duration openFor,
            @DefaultValue("20000") int maxBacklog) {
        public Publish {
            if (maxBacklog < 1) throw new IllegalArgumentException("lethe.worker.publish.max-backlog must be at least 1, got " + maxBacklog);
        }
    }

    /** Topics are created at start-up when {@code create} is set (a local set-up); in production they exist already. */
    public record TopicSetup(@DefaultValue("true") boolean create, @DefaultValue("12") int partitions,
                             @DefaultValue("1") short replicationFactor) {}
}
