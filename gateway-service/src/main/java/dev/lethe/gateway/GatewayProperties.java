package dev.lethe.gateway;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * Settings of the gateway ({@code lethe.gateway.*}). Every one has a default that works for a local
 * {@code ./lethe up}; production sets at least {@code tenants} (the default dev key is public).
 *
 * @param instanceId names this gateway's Kafka consumer groups; random by default, so every instance
 *                   reads all partitions of {@code lethe.tokens} and {@code lethe.jobs}
 * @param models     model names served; the first is used when a request names none
 * @param tenants    who may call the API, each with its API keys
 * @param rateLimit  requests each tenant may make, unless the tenant says otherwise
 * @param limits     bounds on requests
 * @param streams    in-memory token logs, SSE heartbeats and reading back from Kafka
 * @param kafka      topic creation; the connection itself is {@code spring.kafka.*}
 */
@ConfigurationProperties("lethe.gateway")
public record GatewayProperties(
        String instanceId,
        List<String> models,
        List<Tenant> tenants,
        @DefaultValue RateLimit rateLimit,
        @DefaultValue Limits limits,
        @DefaultValue Streams streams,
        @DefaultValue Kafka kafka) {

    public static final String DEV_API_KEY = "lethe-dev-key";
    public static final String DEV_TENANT = "dev";

    public GatewayProperties {
        instanceId = instanceId == null || instanceId.isBlank() ? UUID.randomUUID().toString() : instanceId;
        models = models == null || models.isEmpty() ? List.of("lethe-trace") : List.copyOf(models);
        tenants = tenants == null || tenants.isEmpty()
                ? List.of(new Tenant(DEV_TENANT, List.of(DEV_API_KEY), null, null, null))
                : List.copyOf(tenants);
        Objects.requireNonNull(rateLimit, "rateLimit");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(streams, "streams");
        Objects.requireNonNull(kafka, "kafka");
    }

    /** The defaults, for tests and tools that run without Spring's binder. */
    public static GatewayProperties defaults() {
        return new GatewayProperties(null, null, null, RateLimit.DEFAULT, Limits.DEFAULT, Streams.DEFAULT,
                Kafka.DEFAULT);
    }

    public String defaultModel() {
        return models.getFirst();
    }

    /**
     * @param name         the tenant name written into every job request ({@code tenant} in the schemas)
     * @param apiKeys      bearer tokens that act as this tenant, in plain text: for development only,
     *                     they are hashed at start-up and the plain values are not kept
     * @param apiKeySha256 SHA-256 digests (64 hex digits) of bearer tokens that act as this tenant: what a
     *                     deployment configures, so that the keys themselves are stored nowhere
     * @param rateLimit    this tenant's own limit, or null for {@code lethe.gateway.rate-limit}
     * @param maxStreams   this tenant's own limit of concurrent streams, or null for
     *                     {@code lethe.gateway.streams.max-per-tenant}
     */
    public record Tenant(String name, List<String> apiKeys, List<String> apiKeySha256, RateLimit rateLimit,
                         Integer maxStreams) {
        /** The {@code tenant} pattern of the event schemas: a name that fails it could submit nothing. */
        private static final Pattern NAME = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$");
        private static final Pattern SHA256_HEX = Pattern.compile("^[0-9a-fA-F]{64}$");

        public Tenant {
            Objects.requireNonNull(name, "lethe.gateway.tenants[].name");
            if (!NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("lethe.gateway.tenants[].name \"" + name
                        + "\" must be 1 to 64 letters, digits or . _ ~ - and start with a letter or digit");
            }
            apiKeys = apiKeys == null ? List.of() : List.copyOf(apiKeys);
            apiKeySha256 = apiKeySha256 == null ? List.of() : List.copyOf(apiKeySha256);
            for (String digest : apiKeySha256) {
                if (digest == null || !SHA256_HEX.matcher(digest).matches()) {
                    // The value is not echoed: a key pasted here by mistake must not reach the logs.
                    throw new IllegalArgumentException("lethe.gateway.tenants[].api-key-sha256 of tenant " + name
                            + " holds a value that is not 64 hex digits (the SHA-256 digest of a key, as printed by"
                            + " printf %s \"$KEY\" | sha256sum)");
                }
            }
            if (maxStreams != null && maxStreams < 1) {
                throw new IllegalArgumentException("lethe.gateway.tenants[].max-streams of tenant " + name
                        + " must be at least 1, not " + maxStreams);
            }
        }

        /** A tenant with plain keys and the default limits, for tests and local runs. */
        public static Tenant withKeys(String name, String... apiKeys) {
            return new Tenant(name, List.of(apiKeys), null, null, null);
        }

        /** Without the keys: this record may end up in a log or an error message. */
        @Override
        public String toString() {
            return "Tenant[name=" + name + ", apiKeys=" + apiKeys.size() + " plain, apiKeySha256="
                    + apiKeySha256.size() + ", rateLimit=" + rateLimit + ", maxStreams=" + maxStreams + "]";
        }
    }

    /**
     * A Resilience4j rate limiter: {@code limitForPeriod} requests per {@code refreshPeriod}; a request
     * over the limit is refused at once (429) rather than queued.
     */
    public record RateLimit(@DefaultValue("50") int limitForPeriod, @DefaultValue("1s") Duration refreshPeriod) {
        public static final RateLimit DEFAULT = new RateLimit(50, Duration.ofSeconds(1));

        public RateLimit {
            if (limitForPeriod < 1) {
                throw new IllegalArgumentException("rate-limit.limit-for-period must be at least 1, not " + limitForPeriod);
            }
        }
    }

    /**
     * @param maxPromptChars   longest prompt, or sum of message contents, in characters
     * @param maxTokens        the most tokens a request may ask for
     * @param defaultMaxTokens tokens generated when a request does not say
     * @param completionTimeout how long a non-streaming completion waits for its job
     * @param maxBodySize      largest request body; a larger one is refused with 413 before it is read
     *                         (the codecs' {@code spring.codec.max-in-memory-size} must be at least this)
     */
    public record Limits(@DefaultValue("262144") int maxPromptChars,
                         @DefaultValue("1048576") int maxTokens,
                         @DefaultValue("256") int defaultMaxTokens,
                         @DefaultValue("10m") Duration completionTimeout,
                         @DefaultValue("2MB") DataSize maxBodySize) {
        public static final Limits DEFAULT = new Limits(262_144, 1_048_576, 256, Duration.ofMinutes(10),
                DataSize.ofMegabytes(2));

        public Limits {
            Objects.requireNonNull(maxBodySize, "limits.max-body-size");
            if (maxBodySize.toBytes() < 1024) {
                throw new IllegalArgumentException("limits.max-body-size must be at least 1KB, not " + maxBodySize);
            }
        }
    }

    /**
     * @param heartbeat        interval of SSE comment lines sent while no event was sent
     * @param maxJobs          jobs whose state and recent tokens are kept in memory (least recently
     *                         updated ones are dropped first)
     * @param maxChunksPerJob  token chunks kept per job; older ones are read back from Kafka
     * @param usageWait        how long one of the gateway's consumers may trail the other: after a job's last
     *                         token, the wait for its final status (which carries the prompt token count)
     *                         before reporting usage without it; and after a status that announces tokens of a
     *                         job submitted here, the wait for them before reading them back from Kafka
     * @param replayTimeout    longest read back from {@code lethe.tokens}
     * @param maxPerTenant     concurrent streams (SSE responses) each tenant may hold open, unless the
     *                         tenant says otherwise; one more is refused with 429
     */
    public record Streams(@DefaultValue("10s") Duration heartbeat,
                          @DefaultValue("10000") int maxJobs,
                          @DefaultValue("2048") int maxChunksPerJob,
                          @DefaultValue("2s") Duration usageWait,
                          @DefaultValue("30s") Duration replayTimeout,
                          @DefaultValue("2000") int maxPerTenant) {
        public static final Streams DEFAULT = new Streams(Duration.ofSeconds(10), 10_000, 2048,
                Duration.ofSeconds(2), Duration.ofSeconds(30), 2000);

        public Streams {
            if (maxPerTenant < 1) {
                throw new IllegalArgumentException("streams.max-per-tenant must be at least 1, not " + maxPerTenant);
            }
        }
    }

    /**
     * @param createTopics      whether the gateway creates missing Lethe topics at start (as the workers do)
     * @param partitions        partitions of topics it creates
     * @param replicationFactor replicas of topics it creates
     * @param healthTimeout     how long the readiness check waits for Kafka to describe its cluster
     * @param healthCacheFor    how long one answer of that check is reused
     */
    public record Kafka(@DefaultValue("true") boolean createTopics,
                        @DefaultValue("12") int partitions,
                        @DefaultValue("1") short replicationFactor,
                        @DefaultValue("2s") Duration healthTimeout,
                        @DefaultValue("5s") Duration healthCacheFor) {
        public static final Kafka DEFAULT = new Kafka(true, 12, (short) 1, Duration.ofSeconds(2), Duration.ofSeconds(5));
    }
}
