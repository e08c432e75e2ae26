package dev.lethe.gateway.jobs;

import dev.lethe.schemas.Control;
import dev.lethe.schemas.JobRequest;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Submitting, following and cancelling jobs: what every endpoint needs, without HTTP. */
public final class JobService {

    private static final Logger LOG = LoggerFactory.getLogger(JobService.class);

    private final JobHub hub;
    private final JobPublisher publisher;
    private final Clock clock;

    public JobService(JobHub hub, JobPublisher publisher, Clock clock) {
        this.hub = hub;
        this.publisher = publisher;
        this.clock = clock;
    }

    /** A fresh job id: 96 random bits, hex. */
    public static String newJobId() {
        byte[] bits = new byte[12];
        ThreadLocalRandom.current().nextBytes(bits);
        return "job-" + HexFormat.of().formatHex(bits);
    }

    public Clock clock() {
        return clock;
    }

    /**
     * Registers the job, so that no token can arrive before someone listens, then sends its request.
     *
     * @param model the model name to report for the job
     */
    public Mono<JobTrack> submit(JobRequest request, String model) {
        JobTrack track = hub.submitted(request.jobId(), request.tenant(), model, request.createdAt());
        return publisher.publish(request)
                .doOnSuccess(sent -> {
                    try (var _ = JobMdc.of(request.jobId())) {
                        LOG.info("job {} queued for tenant {}: model {}, up to {} tokens", request.jobId(),
                                request.tenant(), model, request.sampling().maxTokens());
                    }
                })
                .doOnError(error -> {
                    hub.forget(request.jobId());
                    try (var _ = JobMdc.of(request.jobId())) {
                        LOG.warn("job {} of tenant {} could not be queued: {}", request.jobId(), request.tenant(),
                                error.toString());
                    }
                })
                .thenReturn(track);
    }

    public Optional<JobTrack> find(String jobId, String tenant) {
        return hub.find(jobId, tenant);
    }

    public Mono<Void> cancel(JobTrack track, String reason) {
        return publisher.publish(new Control(track.jobId(), Control.Command.CANCEL, reason, clock.instant()))
                .doOnSuccess(sent -> {
                    try (var _ = JobMdc.of(track.jobId())) {
                        LOG.info("job {} cancel sent: {}", track.jobId(), reason);
                    }
                });
    }

    /** Administrators: the job, whichever tenant it belongs to. */
    public Optional<JobTrack> findAnyTenant(String jobId) {
        return hub.findAnyTenant(jobId);
    }

    /** Asks the job's worker to checkpoint it and free its slot; it resumes when there is room, there or elsewhere. */
    public Mono<Void> preempt(JobTrack track, String reason) {
        return publisher.publish(new Control(track.jobId(), Control.Command.PREEMPT, reason, clock.instant()));
    }

    /** The job's events after token {@code afterSeq}; see {@link JobHub#events}. */
    public Flux<StreamEvent> events(JobTrack track, long afterSeq) {
        return hub.events(track, afterSeq);
    }

    /** Waits for the job to end and gathers its whole text. */
    public Mono<JobResult> result(JobTrack track) {
        return events(track, -1).collect(ResultBuilder::new, ResultBuilder::add).map(ResultBuilder::build);
    }

    private static final class ResultBuilder {
        private final StringBuilder text = new StringBuilder();
        private StreamEvent.Finished finished;
        private String lost;

        void add(StreamEvent event) {
            switch (event) {
                case StreamEvent.Tokens tokens when tokens.text() != null -> text.append(tokens.text());
                case StreamEvent.Tokens tokens -> lost = "the text of tokens " + tokens.fromSeq() + ".." + tokens.toSeq()
                        + " is not known: they overlap a chunk sent before";
                case StreamEvent.Finished end -> finished = end;
                case StreamEvent.Lost end -> lost = end.detail();
                case StreamEvent.StatusChanged ignored -> {
                }
            }
        }

        JobResult build() {
            return new JobResult(text.toString(), lost == null ? finished : null, lost);
        }
    }
}
