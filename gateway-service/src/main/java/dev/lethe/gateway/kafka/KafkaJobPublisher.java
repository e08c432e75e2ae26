package dev.lethe.gateway.kafka;

import dev.lethe.gateway.jobs.JobPublisher;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.Event;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.Topics;
import org.springframework.kafka.core.KafkaTemplate;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Sends requests and commands with a plain {@link KafkaTemplate}, bridged to Reactor. The send runs
 * on a worker thread: {@code send} can block (for up to {@code max.block.ms}) while it fetches
 * metadata, which must never happen on a Netty event loop. The job id is the key, as on every topic.
 */
public final class KafkaJobPublisher implements JobPublisher {

    private final KafkaTemplate<String, Event> template;

    public KafkaJobPublisher(KafkaTemplate<String, Event> template) {
        this.template = template;
    }

    @Override
    public Mono<Void> publish(JobRequest request) {
        return send(Topics.REQUESTS, request);
    }

    @Override
    public Mono<Void> publish(Control control) {
        return send(Topics.CONTROL, control);
    }

    private Mono<Void> send(String topic, Event event) {
        return Mono.fromFuture(() -> template.send(topic, event.jobId(), event))
                .subscribeOn(Schedulers.boundedElastic())
                .then();
    }
}
