package dev.lethe.worker;

import dev.lethe.schemas.Control;
import dev.lethe.schemas.DeadLetters;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.Topics;
import java.time.Duration;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads {@code lethe.control} for the partitions this worker owns (the topics are co-partitioned with
 * {@code lethe.requests}, so a job's commands are in the partition of its request), from the offsets committed by
 * the workers' control group: a worker that takes a partition over carries on where its previous owner stopped.
 * CANCEL ends a job (or is remembered, in case its request is still on its way); PREEMPT checkpoints it and frees
 * its slot; CHECKPOINT_NOW writes a checkpoint and lets it run on.
 */
final class ControlReader implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControlReader.class);

    private final Supplier<Consumer<byte[], byte[]>> consumers;
    private final EventCodec codec;
    private final OwnedJobs jobs;
    private final EarlyCancels earlyCancels;
    private final EventPublisher events;
    private final WorkerMetrics metrics;
    private final Thread thread;
    private volatile Set<Integer> wanted = Set.of();
    private volatile boolean changed;
    private volatile boolean running = true;
    private volatile Consumer<byte[], byte[]> consumer;

    /** @param consumers makes the consumer, with the control group for commits (it is assigned, never subscribed) */
    ControlReader(Supplier<Consumer<byte[], byte[]>> consumers, EventCodec codec, OwnedJobs jobs, EarlyCancels earlyCancels,
                  EventPublisher events, WorkerMetrics metrics) {
        this.consumers = consumers;
        this.codec = codec;
        this.jobs = jobs;
        this.earlyCancels = earlyCancels;
        this.events = events;
        this.metrics = metrics;
        this.thread = Thread.ofPlatform().name("lethe-control").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    boolean alive() {
        return thread.isAlive();
    }

    /** From now on, read these partitions (those of the requests partitions this worker owns). */
    void follow(Set<Integer> partitions) {
        wanted = Set.copyOf(partitions);
        changed = true;
        Consumer<byte[], byte[]> c = consumer;
        if (c != null) c.wakeup();
    }

    private void run() {
        try (Consumer<byte[], byte[]> c = consumers.get()) {
            consumer = c;
            while (running) {
                try {
                    if (changed) {
                        changed = false;
                        c.assign(wanted.stream().map(p -> new TopicPartition(Topics.CONTROL, p)).toList());
                    }
                    if (wanted.isEmpty()) {
                        Thread.sleep(100);
                        continue;
                    }
                    ConsumerRecords<byte[], byte[]> records = c.poll(Duration.ofMillis(500));
                    for (ConsumerRecord<byte[], byte[]> record : records) handle(record);
                    if (!records.isEmpty()) c.commitSync();
                } catch (WakeupException e) {
                    // the assignment changed, or we are closing
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (RuntimeException e) {
                    log.warn("reading {} failed: {}", Topics.CONTROL, e.toString());
                    pause();
                }
            }
        }
    }

    private static void pause() {
        try {
            Thread.sleep(500);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handle(ConsumerRecord<byte[], byte[]> record) {
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
        String why = control.reason() == null ? "" : ": " + control.reason();
        switch (control.command()) {
            case CANCEL -> {
                if (jobs.cancel(control.jobId())) {
                    log.info("cancelling job {}{}", control.jobId(), why);
                } else {
                    earlyCancels.remember(control.jobId());
                }
            }
            case PREEMPT -> {
                if (jobs.preempt(control.jobId())) log.info("preempting job {}{}", control.jobId(), why);
            }
            case CHECKPOINT_NOW -> {
                if (jobs.checkpointNow(control.jobId())) log.info("checkpointing job {}{}", control.jobId(), why);
            }
        }
    }

    @Override
    public void close() {
        running = false;
        Consumer<byte[], byte[]> c = consumer;
        if (c != null) c.wakeup();
        try {
            thread.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
