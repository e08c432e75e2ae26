package dev.lethe.worker;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/**
 * The inference worker: consumes job requests from Kafka, decodes them on the engine with continuous batching,
 * and streams tokens and job states back. The Spring and Kafka parts are thin adapters around
 * {@link dev.lethe.engine.scheduler.ContinuousBatchScheduler}.
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class WorkerApplication {

    public static void main(String[] args) {
        SpringApplication.run(WorkerApplication.class, args);
    }
}
