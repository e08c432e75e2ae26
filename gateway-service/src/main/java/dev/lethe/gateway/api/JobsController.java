package dev.lethe.gateway.api;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.jobs.JobResult;
import dev.lethe.gateway.jobs.JobService;
import dev.lethe.gateway.jobs.JobSnapshot;
import dev.lethe.gateway.jobs.JobTrack;
import dev.lethe.gateway.jobs.StreamEvent;
import dev.lethe.gateway.security.ApiKeyFilter;
import dev.lethe.gateway.security.StreamLimits;
import dev.lethe.gateway.security.StreamPermit;
import dev.lethe.schemas.JobRequest;
import java.net.URI;
import java.util.List;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * Long-running jobs: submit, look up, follow (a resumable SSE stream) and cancel. A job is visible
 * only to the tenant that submitted it; to anyone else it does not exist (404). Following a job takes
 * one of the tenant's stream permits ({@link StreamLimits}).
 */
@RestController
public class JobsController {

    private final JobService jobs;
    private final RequestParser parser;
    private final GatewayProperties properties;
    private final StreamLimits streamLimits;
    private final StreamShutdown shutdown;
    private final JsonMapper json;

    public JobsController(JobService jobs, RequestParser parser, GatewayProperties properties,
                          StreamLimits streamLimits, StreamShutdown shutdown, JsonMapper json) {
        this.shutdown = shutdown;
        this.jobs = jobs;
        this.parser = parser;
        this.properties = properties;
        this.streamLimits = streamLimits;
        this.json = json;
    }

    @PostMapping("/v1/jobs")
    public Mono<ResponseEntity<JobViews.Job>> submit(@RequestAttribute(ApiKeyFilter.TENANT) String tenant,
                                                     @RequestBody(required = false) String body) {
        GenerationRequest request = parser.parse(RequestParser.Kind.JOB, body);
        JobRequest event = request.toJobRequest(JobService.newJobId(), tenant, jobs.clock().instant());
        return jobs.submit(event, request.model())
                .onErrorMap(error -> !(error instanceof ApiProblem),
                        error -> ApiProblem.unavailable("the job could not be queued", error))
                .map(track -> ResponseEntity.accepted()
                        .location(URI.create("/v1/jobs/" + track.jobId()))
                        .body(JobViews.Job.of(track.snapshot(), null)));
    }

    @GetMapping("/v1/jobs/{id}")
    public Mono<JobViews.Job> get(@RequestAttribute(ApiKeyFilter.TENANT) String tenant, @PathVariable String id) {
        JobTrack track = find(id, tenant);
        JobSnapshot snapshot = track.snapshot();
        if (snapshot.status() == null || !snapshot.status().state().isFinal()) {
            return Mono.just(JobViews.Job.of(snapshot, null));
        }
        // Ended: gather the output, from memory or read back from Kafka.
        return jobs.result(track)
                .timeout(properties.streams().replayTimeout())
                .onErrorResume(error -> Mono.just(new JobResult("", null, "the output could not be read: " + error)))
                .map(result -> JobViews.Job.of(track.snapshot(), result));
    }

    /**
     * The job's events as SSE: {@code token} events (SSE id = seq of the event's last token),
     * {@code status} events, then one {@code done} (or {@code error}) event. Resumes after the token
     * named by {@code Last-Event-ID} or, failing that, {@code starting_after}.
     */
    @GetMapping(path = "/v1/jobs/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    public Flux<ServerSentEvent<String>> events(ServerWebExchange exchange,
                                                @RequestAttribute(ApiKeyFilter.TENANT) String tenant,
                                                @PathVariable String id,
                                                @RequestParam(name = "starting_after", required = false) String startingAfter,
                                                @RequestHeader(name = "Last-Event-ID", required = false) String lastEventId) {
        long after = lastEventId != null && !lastEventId.isBlank()
                ? seq("Last-Event-ID", lastEventId)
                : startingAfter != null ? seq("starting_after", startingAfter) : -1;
        JobTrack track = find(id, tenant);
        StreamPermit permit = streamLimits.acquire(exchange, tenant);
        Flux<ServerSentEvent<String>> events = jobs.events(track, after)
                .doOnNext(event -> {
                    // The job's last event: the permit goes back before the client can read it and open another.
                    if (event instanceof StreamEvent.Finished || event instanceof StreamEvent.Lost) {
                        permit.release();
                    }
                })
                .map(this::sse);
        return permit.heldBy(shutdown.endOnShutdown(Heartbeats.whileIdle(events, properties.streams().heartbeat())));
    }

    @PostMapping("/v1/jobs/{id}/cancel")
    public Mono<ResponseEntity<JobViews.Job>> cancel(@RequestAttribute(ApiKeyFilter.TENANT) String tenant,
                                                     @PathVariable String id) {
        JobTrack track = find(id, tenant);
        JobSnapshot snapshot = track.snapshot();
        if (snapshot.status() != null && snapshot.status().state().isFinal()) {
            throw new ApiProblem(HttpStatus.CONFLICT, "job-ended", "Job already ended",
                    "job " + id + " already ended: " + snapshot.status().state(), List.of());
        }
        return jobs.cancel(track, "cancelled through the API")
                .onErrorMap(error -> ApiProblem.unavailable("the cancel command could not be sent", error))
                .then(Mono.fromSupplier(() -> ResponseEntity.accepted().body(JobViews.Job.of(track.snapshot(), null))));
    }

    private ServerSentEvent<String> sse(StreamEvent event) {
        return switch (event) {
            case StreamEvent.Tokens tokens -> ServerSentEvent.builder(json.writeValueAsString(JobViews.Tokens.of(tokens)))
                    .id(Long.toString(tokens.toSeq())).event("token").build();
            case StreamEvent.StatusChanged status -> ServerSentEvent.builder(
                    json.writeValueAsString(JobViews.Status.of(status.status()))).event("status").build();
            case StreamEvent.Finished finished -> ServerSentEvent.builder(
                    json.writeValueAsString(JobViews.Done.of(finished))).event("done").build();
            case StreamEvent.Lost lost -> ServerSentEvent.builder(
                    json.writeValueAsString(new JobViews.StreamLost(lost.detail()))).event("error").build();
        };
    }

    private JobTrack find(String id, String tenant) {
        return jobs.find(id, tenant).orElseThrow(() -> ApiProblem.jobNotFound(id));
    }

    private static long seq(String name, String value) {
        try {
            long seq = Long.parseLong(value.strip());
            if (seq >= -1) {
                return seq;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw ApiProblem.invalid(List.of(new ApiProblem.FieldError(name,
                "must be a token seq (an integer of -1 or more), not \"" + value + "\"")));
    }
}
