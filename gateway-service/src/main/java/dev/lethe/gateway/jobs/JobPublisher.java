package dev.lethe.gateway.jobs;

import dev.lethe.schemas.Control;
import dev.lethe.schemas.JobRequest;
import reactor.core.publisher.Mono;

/** Sends the gateway's events: job requests and control commands. */
public interface JobPublisher {

    /** Completes once the broker has the request. */
    Mono<Void> publish(JobRequest request);

    /** Completes once the broker has the command. */
    Mono<Void> publish(Control control);
}
