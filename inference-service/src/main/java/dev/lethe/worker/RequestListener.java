package dev.lethe.worker;

import dev.lethe.engine.scheduler.ContinuousBatchScheduler;
import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.engine.scheduler.JobSpec;
import dev.lethe.engine.scheduler.QueueFullException;
import dev.lethe.schemas.DeadLetters;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.support.Acknowledgment;

/**
 * Consumes {@code lethe.requests}. A record that is not a valid job request goes to the DLQ as it came (key,
 * value, headers) plus the reason. A valid one is accepted: its QUEUED state is written to {@code lethe.jobs}
 * and acknowledged by the broker, the job is queued, and only then is the request's offset committed. From
 * then on the job's state lives in the compacted topics, not in the request offset. A request this worker
 * cannot run (wrong model, prompt too long, bad KV policy) ends FAILED with a reason the client can read. A request
 * for a job this worker already has (taken over from its partition's previous owner) or saw end is skipped.
 */
final class RequestListener {
    private static final Logger log = LoggerFactory.getLogger(RequestListener.class);

    private final EventCodec codec;
    private final JobPreparer preparer;
    private final ContinuousBatchScheduler scheduler;
    private final OwnedJobs jobs;
    private final EventPublisher events;
    private final BackPressure backPressure;
    private final EarlyCancels earlyCancels;
    private final WorkerMetrics metrics;
    private final String workerId;
    private final Clock clock;

    RequestListener(EventCodec codec, JobPreparer preparer, ContinuousBatchScheduler scheduler, OwnedJobs jobs,
                    EventPublisher events, BackPressure backPressure, EarlyCancels earlyCancels, WorkerMetrics metrics,
                    String workerId, Clock clock) {
        this.codec = codec;
        this.preparer = preparer;
        this.scheduler = scheduler;
        this.jobs = jobs;
        this.events = events;
        this.backPressure = backPressure;
        this.earlyCancels = earlyCancels;
        this.metrics = metrics;
        this.workerId = workerId;
        this.clock = clock;
    }

    /** Cooperative-sticky: a rebalance revokes only the partitions that move, so only their jobs are handed over. */
    @KafkaListener(id = BackPressure.REQUESTS_LISTENER, idIsGroup = false, topics = Topics.REQUESTS,
            containerFactory = "requestsListenerFactory",
            properties = "partition.assignment.strategy=org.apache.kafka.clients.consumer.CooperativeStickyAssignor")
    void onRequest(ConsumerRecord<byte[], byte[]> record, Acknowledgment ack) {
        switch (codec.decode(record.value(), JobRequest.class)) {
            case DecodeResult.Invalid<JobRequest> invalid -> deadLetter(record, invalid.reason(), invalid.kind().name());
            case DecodeResult.Valid<JobRequest>(JobRequest request) -> {
                byte[] expectedKey = request.jobId().getBytes(StandardCharsets.UTF_8);
                if (!Arrays.equals(record.key(), expectedKey)) {
                    // The key decides the partition, and the partition decides which worker owns the job's state.
                    deadLetter(record, "the record key " + describeKey(record.key()) + " is not the job id '"
                            + request.jobId() + "' (every Lethe record is keyed by its job id)", "KEY_NOT_JOB_ID");
                } else {
                    accept(request, record);
                }
            }
        }
        ack.acknowledge();
        backPressure.pauseIfFull(scheduler);
    }

    private void accept(JobRequest request, ConsumerRecord<byte[], byte[]> record) {
        String where = "request " + record.topic() + "-" + record.partition() + "@" + record.offset();
        if (jobs.knows(request.jobId())) {
            // Read again after a take-over (its offset was not committed yet), or sent twice.
            log.info("job {} is already owned here or ended; ignoring the repeated request at {}", request.jobId(), where);
            return;
        }
        JobTracker job = new JobTracker(request.jobId(), request.tenant(), workerId, clock);
        if (earlyCancels.take(request.jobId())) {
            end(job, job.cancelledBeforeStart(where), FinishReason.CANCELLED, JobOutcome.Ending.CANCELLED);
            return;
        }
        JobSpec spec;
        try {
            spec = preparer.prepare(request);
        } catch (JobRejectedException e) {
            log.info("job {} rejected: {} {}", request.jobId(), e.code(), e.getMessage());
            end(job, job.rejected(where, e.code(), e.getMessage()), FinishReason.ERROR, JobOutcome.Ending.FAILED);
            return;
        }
        if (!scheduler.hasRoom()) {
            // Cannot happen while this thread is the only one queueing and pauses when full; if it does, the
            // container's error handler delivers the record again after a backoff, and nothing was written.
            throw new QueueFullException(scheduler.config().queueCapacity());
        }
        String detail = where + (request.sampling().seed() == null ? ", seed " + spec.sampling().seed() + " chosen by the worker" : "");
        events.send(events.record(Topics.JOBS, job.accepted(detail)));
        jobs.start(job, record.partition(), spec);
    }

    /** A job that ends before it runs: its stream's only chunk (so readers of lethe.tokens see the end), then its state. */
    private void end(JobTracker job, dev.lethe.schemas.JobStatus status, FinishReason reason, JobOutcome.Ending ending) {
        events.sendAll(List.of(
                events.record(Topics.TOKENS, JobStream.emptyEnd(job.jobId(), workerId, reason, clock)),
                events.record(Topics.JOBS, status)));
        metrics.jobFinished(ending);
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> record, String reason, String kind) {
        log.warn("request {}-{}@{} sent to {}: {}", record.topic(), record.partition(), record.offset(), Topics.DLQ, reason);
        events.send(DeadLetters.of(record, reason, kind));
        metrics.deadLettered(kind);
    }

    private static String describeKey(byte[] key) {
        return key == null ? "(none)" : "'" + new String(key, StandardCharsets.UTF_8) + "'";
    }
}
