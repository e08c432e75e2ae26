package dev.lethe.worker;

import dev.lethe.engine.scheduler.ContinuousBatchScheduler;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.DeadLetters;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.kafka.annotation.KafkaListener;

/**
 * Consumes {@code lethe.control}. Every worker reads every command (its own consumer group, from the end) and
 * acts on those for jobs it holds: a CANCEL ends a queued or running job at the next decode step. A CANCEL for a
 * job not seen yet is remembered, in case its request is still on its way.
 *
 * <p>Later, with preemption and recovery, a worker will read only the control partitions matching the request
 * partitions it owns (the topics are co-partitioned), from its committed offsets.
 */
final class ControlListener {
    private static final Logger log = LoggerFactory.getLogger(ControlListener.class);
    static final String LISTENER = "lethe-control";

    private final EventCodec codec;
    private final ContinuousBatchScheduler scheduler;
    private final EarlyCancels earlyCancels;
    private final EventPublisher events;
    private final WorkerMetrics metrics;

    ControlListener(EventCodec codec, ContinuousBatchScheduler scheduler, EarlyCancels earlyCancels,
                    EventPublisher events, WorkerMetrics metrics) {
        this.codec = codec;
        this.scheduler = scheduler;
        this.earlyCancels = earlyCancels;
        this.events = events;
        this.metrics = metrics;
    }

    @KafkaListener(id = LISTENER, topics = Topics.CONTROL, containerFactory = "controlListenerFactory",
            groupId = "#{@workerIdentity.controlGroup()}")
    void onControl(ConsumerRecord<byte[], byte[]> record) {
        switch (codec.decode(record.value(), Control.class)) {
            case DecodeResult.Invalid<Control> invalid -> {
                log.warn("control record {}-{}@{} sent to {}: {}", record.topic(), record.partition(), record.offset(),
                        Topics.DLQ, invalid.reason());
                events.send(DeadLetters.of(record, invalid));
                metrics.deadLettered(invalid.kind().name());
            }
            case DecodeResult.Valid<Control>(Control control) -> apply(control);
        }
    }

    private void apply(Control control) {
        switch (control.command()) {
            case CANCEL -> {
                if (scheduler.cancel(control.jobId())) {
                    log.info("cancelling job {}{}", control.jobId(), control.reason() == null ? "" : ": " + control.reason());
                } else {
                    earlyCancels.remember(control.jobId());
                }
            }
            case PREEMPT, CHECKPOINT_NOW -> {
                if (scheduler.isKnown(control.jobId())) {
                    log.warn("job {}: {} is not supported yet (checkpoints come later); ignored", control.jobId(), control.command());
                }
            }
        }
    }
}
