package dev.lethe.worker;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.scheduler.ContinuousBatchScheduler;
import dev.lethe.engine.scheduler.DecodeLoop;
import dev.lethe.engine.scheduler.SchedulerConfig;
import dev.lethe.schemas.EventCodec;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.micrometer.core.instrument.MeterRegistry;
import dev.lethe.store.CheckpointStore;
import dev.lethe.store.CheckpointStoreException;
import dev.lethe.store.CheckpointStores;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.KafkaTemplate;

/** The worker's parts, wired: the engine and scheduler (plain Java) and the adapters around them. */
@Configuration(proxyBeanMethods = false)
class WorkerConfiguration {

    @Bean
    WorkerIdentity workerIdentity(WorkerProperties properties) {
        String id = properties.workerId();
        return new WorkerIdentity(id, properties.controlGroupOrDefault());
    }

    @Bean
    Clock clock() {
        return Clock.systemUTC();
    }

    @Bean
    EventCodec eventCodec() {
        return new EventCodec();
    }

    @Bean(destroyMethod = "close")
    Model model(WorkerProperties properties) {
        if (!Files.isRegularFile(properties.model())) {
            throw new IllegalStateException("lethe.worker.model: no model file at " + properties.model().toAbsolutePath()
                    + " (set lethe.worker.model, or LETHE_WORKER_MODEL, to a GGUF file)");
        }
        return Model.load(properties.model());
    }

    @Bean
    WorkerMetrics workerMetrics(MeterRegistry registry) {
        return new WorkerMetrics(registry);
    }

    @Bean
    BackPressure backPressure(KafkaListenerEndpointRegistry registry, WorkerMetrics metrics) {
        return new BackPressure(registry, metrics::requestsPaused);
    }

    @Bean
    ContinuousBatchScheduler scheduler(Model model, WorkerProperties properties, WorkerMetrics metrics,
                                       BackPressure backPressure) {
        var c = properties.checkpoints();
        var scheduler = new ContinuousBatchScheduler(model, policy -> {
            OffHeapKvCache cache = KvCaches.create(model.kvLayout(), policy);
            cache.addListener(metrics.cacheListener());
            return cache;
        }, new SchedulerConfig(properties.maxActiveJobs(), properties.queueCapacity(), properties.kvBudget().toBytes(),
                c.everyTokens(), c.every()), backPressure::resume);
        metrics.watch(scheduler, backPressure::paused);
        return scheduler;
    }

    /** Depends on the publisher, so that it stops (finishing its step) before the publisher writes the last records. */
    @Bean(destroyMethod = "close")
    DecodeLoop decodeLoop(ContinuousBatchScheduler scheduler, StreamPublisher publisher, OwnedJobs jobs,
                          WorkerProperties properties) {
        var loop = new DecodeLoop(scheduler, "lethe-decode", properties.minStepTime(), publisher::backlogged);
        loop.start();
        return loop;
    }

    @Bean
    Retry publishRetry(WorkerProperties properties) {
        var p = properties.publish();
        return Retry.of("lethe-publish", RetryConfig.custom()
                .maxAttempts(p.maxAttempts())
                .intervalFunction(IntervalFunction.ofExponentialBackoff(p.initialBackoff(), 2.0, p.maxBackoff()))
                .retryExceptions(Exception.class)
                .build());
    }

    @Bean
    CircuitBreaker publishCircuitBreaker(WorkerProperties properties) {
        var p = properties.publish();
        return CircuitBreaker.of("lethe-publish", CircuitBreakerConfig.custom()
                .slidingWindowSize(p.window())
                .minimumNumberOfCalls(p.window())
                .failureRateThreshold(p.failureRate())
                .waitDurationInOpenState(p.openFor())
                .permittedNumberOfCallsInHalfOpenState(1)
                .build());
    }

    @Bean
    EventPublisher eventPublisher(KafkaTemplate<byte[], byte[]> template, EventCodec codec, Retry publishRetry,
                                  CircuitBreaker publishCircuitBreaker, WorkerProperties properties) {
        return new EventPublisher(template, codec, publishRetry, publishCircuitBreaker, properties.publish().sendTimeout());
    }

    /** The publisher tells the owned jobs when a job's final state is written (its checkpoints go then). */
    @Bean(destroyMethod = "close")
    StreamPublisher streamPublisher(EventPublisher events, WorkerMetrics metrics, Clock clock, WorkerProperties properties,
                                    ObjectProvider<OwnedJobs> jobs) {
        var publisher = new StreamPublisher(events, metrics, clock, properties.chunk(), properties.publish().maxBacklog(),
                tracker -> jobs.getObject().ended(tracker));
        metrics.watchPublisher(publisher::backlogged);
        publisher.start();
        return publisher;
    }

    @Bean(destroyMethod = "close")
    CheckpointStore checkpointStore(WorkerProperties properties) throws CheckpointStoreException {
        var c = properties.checkpoints();
        String location = c.storeOrDefault();
        return CheckpointStores.forLocation(location, location.startsWith("s3://") ? c.s3().settings() : null);
    }

    /** The checkpoint store's circuit breaker is not a bean: only {@link Checkpoints} uses it. */
    @Bean
    Checkpoints checkpoints(CheckpointStore store, EventPublisher events, Model model, WorkerMetrics metrics,
                            WorkerIdentity identity, Clock clock, WorkerProperties properties) {
        return new Checkpoints(store, checkpointBreaker(properties.checkpoints().breaker()), events, model, metrics,
                identity.id(), clock, properties.checkpoints().maxPendingDeletes());
    }

    /** The circuit breaker around checkpoint writes: one write probes the store when the open wait is over. */
    static CircuitBreaker checkpointBreaker(WorkerProperties.Breaker b) {
        return CircuitBreaker.of("lethe-checkpoint-store", CircuitBreakerConfig.custom()
                .slidingWindowSize(b.window())
                .minimumNumberOfCalls(b.window())
                .failureRateThreshold(b.failureRate())
                .waitDurationInOpenState(b.openFor())
                .permittedNumberOfCallsInHalfOpenState(1)
                .build());
    }

    @Bean(destroyMethod = "close")
    OwnedJobs ownedJobs(ContinuousBatchScheduler scheduler, StreamPublisher streams, Checkpoints checkpoints,
                        EventPublisher events, Clock clock, WorkerProperties properties, WorkerMetrics metrics) {
        var c = properties.checkpoints();
        var jobs = new OwnedJobs(scheduler, streams, checkpoints, events, clock, c.preemptHold(), c.flushTimeout(),
                c.retryDeletesEvery());
        metrics.watchCheckpoints(checkpoints::circuit, jobs::checkpointsFailing, checkpoints::pendingDeletes);
        return jobs;
    }

    @Bean
    JobPreparer jobPreparer(Model model, WorkerProperties properties) {
        PolicySpec defaultPolicy = PolicySpec.of(properties.kv().policy(), properties.kv().parameters());
        return new JobPreparer(model, properties.modelNameOrDefault(), defaultPolicy, new SecureRandom());
    }

    @Bean
    EarlyCancels earlyCancels() {
        return new EarlyCancels(10_000);
    }

    @Bean
    TakeOver takeOver(ConsumerFactory<byte[], byte[]> consumers, EventCodec codec, JobPreparer preparer, OwnedJobs jobs,
                      EventPublisher events, Checkpoints checkpoints, EarlyCancels earlyCancels, WorkerIdentity identity,
                      Clock clock) {
        return new TakeOver(() -> plainConsumer(consumers, null), codec, preparer, jobs, events, checkpoints, earlyCancels,
                identity.id(), clock, Duration.ofSeconds(30));
    }

    @Bean(destroyMethod = "close")
    ControlReader controlReader(ConsumerFactory<byte[], byte[]> consumers, EventCodec codec, OwnedJobs jobs,
                                EarlyCancels earlyCancels, EventPublisher events, WorkerMetrics metrics, WorkerIdentity identity) {
        var reader = new ControlReader(() -> plainConsumer(consumers, identity.controlGroup()), codec, jobs, earlyCancels,
                events, metrics);
        reader.start();
        return reader;
    }

    @Bean
    PartitionOwnership partitionOwnership(TakeOver takeOver, OwnedJobs jobs, ControlReader control, WorkerProperties properties) {
        return new PartitionOwnership(takeOver, jobs, control, properties.checkpoints().handoverTimeout());
    }

    /**
     * A consumer with the worker's Kafka settings for reading assigned partitions: in {@code group} (for committing
     * offsets only; it never subscribes), or in none.
     */
    private static Consumer<byte[], byte[]> plainConsumer(ConsumerFactory<byte[], byte[]> consumers, String group) {
        Map<String, Object> config = new HashMap<>(consumers.getConfigurationProperties());
        config.remove(ConsumerConfig.GROUP_ID_CONFIG);
        if (group != null) config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        config.remove(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @Bean
    RequestListener requestListener(EventCodec codec, JobPreparer preparer, ContinuousBatchScheduler scheduler,
                                    OwnedJobs jobs, EventPublisher events, BackPressure backPressure,
                                    EarlyCancels earlyCancels, WorkerMetrics metrics, WorkerIdentity identity, Clock clock) {
        return new RequestListener(codec, preparer, scheduler, jobs, events, backPressure, earlyCancels, metrics,
                identity.id(), clock);
    }

    @Bean
    WorkerHealth workerHealth(DecodeLoop decodeLoop, StreamPublisher publisher, ContinuousBatchScheduler scheduler,
                              CircuitBreaker publishCircuitBreaker, BackPressure backPressure, PartitionOwnership ownership,
                              OwnedJobs jobs) {
        return new WorkerHealth(decodeLoop, publisher, scheduler, publishCircuitBreaker, backPressure, ownership, jobs);
    }
}
