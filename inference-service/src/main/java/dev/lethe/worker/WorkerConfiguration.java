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
import java.nio.file.Files;
import java.security.SecureRandom;
import java.time.Clock;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.kafka.config.KafkaListenerEndpointRegistry;
import org.springframework.kafka.core.KafkaTemplate;

/** The worker's parts, wired: the engine and scheduler (plain Java) and the adapters around them. */
@Configuration(proxyBeanMethods = false)
class WorkerConfiguration {

    @Bean
    WorkerIdentity workerIdentity(WorkerProperties properties) {
        String id = properties.workerId();
        return new WorkerIdentity(id, properties.controlGroupOrDefault(id));
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
        var scheduler = new ContinuousBatchScheduler(model, policy -> {
            OffHeapKvCache cache = KvCaches.create(model.kvLayout(), policy);
            cache.addListener(metrics.cacheListener());
            return cache;
        }, new SchedulerConfig(properties.maxActiveJobs(), properties.queueCapacity()), backPressure::resume);
        metrics.watch(scheduler, backPressure::paused);
        return scheduler;
    }

    /** Depends on the publisher, so that it stops (finishing its step) before the publisher writes the last records. */
    @Bean(destroyMethod = "close")
    DecodeLoop decodeLoop(ContinuousBatchScheduler scheduler, StreamPublisher publisher) {
        var loop = new DecodeLoop(scheduler, "lethe-decode");
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

    @Bean(destroyMethod = "close")
    StreamPublisher streamPublisher(EventPublisher events, WorkerMetrics metrics, Clock clock, WorkerProperties properties) {
        var publisher = new StreamPublisher(events, metrics, clock, properties.chunk());
        publisher.start();
        return publisher;
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
    RequestListener requestListener(EventCodec codec, JobPreparer preparer, ContinuousBatchScheduler scheduler,
                                    StreamPublisher streams, EventPublisher events, BackPressure backPressure,
                                    EarlyCancels earlyCancels, WorkerMetrics metrics, WorkerIdentity identity, Clock clock) {
        return new RequestListener(codec, preparer, scheduler, streams, events, backPressure, earlyCancels, metrics,
                identity.id(), clock);
    }

    @Bean
    ControlListener controlListener(EventCodec codec, ContinuousBatchScheduler scheduler, EarlyCancels earlyCancels,
                                    EventPublisher events, WorkerMetrics metrics) {
        return new ControlListener(codec, scheduler, earlyCancels, events, metrics);
    }

    @Bean
    WorkerHealth workerHealth(DecodeLoop decodeLoop, StreamPublisher publisher, ContinuousBatchScheduler scheduler,
                              CircuitBreaker publishCircuitBreaker, BackPressure backPressure) {
        return new WorkerHealth(decodeLoop, publisher, scheduler, publishCircuitBreaker, backPressure);
    }
}
