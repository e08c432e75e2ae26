package dev.lethe.gateway.api;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.jobs.JobResult;
import dev.lethe.gateway.jobs.JobService;
import dev.lethe.gateway.jobs.JobTrack;
import dev.lethe.gateway.jobs.StreamEvent;
import dev.lethe.gateway.security.ApiKeyFilter;
import dev.lethe.gateway.security.StreamLimits;
import dev.lethe.gateway.security.StreamPermit;
import dev.lethe.schemas.JobError;
import dev.lethe.schemas.JobRequest;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * OpenAI's {@code POST /v1/chat/completions} and {@code POST /v1/completions}, each run as one Lethe
 * job. Streaming answers are SSE {@code data:} lines of OpenAI chunks ending with {@code data: [DONE]};
 * other answers wait for the job. If the client goes away before the job ends, the job is cancelled:
 * nobody can fetch an OpenAI completion later (the {@code /v1/jobs} API is for that).
 */
@RestController
public class CompletionsController {

    private static final String DONE = "[DONE]";

    private final JobService jobs;
    private final RequestParser parser;
    private final GatewayProperties properties;
    private final StreamLimits streamLimits;
    private final StreamShutdown shutdown;
    private final JsonMapper json;

    public CompletionsController(JobService jobs, RequestParser parser, GatewayProperties properties,
                                 StreamLimits streamLimits, StreamShutdown shutdown, JsonMapper json) {
        this.shutdown = shutdown;
        this.jobs = jobs;
        this.parser = parser;
        this.properties = properties;
        this.streamLimits = streamLimits;
        this.json = json;
    }

    @PostMapping("/v1/chat/completions")
    public Mono<ResponseEntity<?>> chat(ServerWebExchange exchange, @RequestAttribute(ApiKeyFilter.TENANT) String tenant,
                                        @RequestBody(required = false) String body) {
        return run(RequestParser.Kind.CHAT, exchange, tenant, body);
    }

    @PostMapping("/v1/completions")
    public Mono<ResponseEntity<?>> completion(ServerWebExchange exchange,
                                              @RequestAttribute(ApiKeyFilter.TENANT) String tenant,
                                              @RequestBody(required = false) String body) {
        return run(RequestParser.Kind.COMPLETION, exchange, tenant, body);
    }

    private Mono<ResponseEntity<?>> run(RequestParser.Kind kind, ServerWebExchange exchange, String tenant, String body) {
        GenerationRequest request = parser.parse(kind, body);
        if (!request.stream()) {
            return submit(kind, tenant, request).map(job -> ResponseEntity.ok()
                    .contentType(MediaType.APPLICATION_JSON).body(whole(job.track(), job.response())));
        }
        // Before the job is submitted: a refused stream must not leave a job running for nobody.
        StreamPermit permit = streamLimits.acquire(exchange, tenant);
        return Mono.defer(() -> submit(kind, tenant, request))
                .flatMap(job -> notRejected(job.track()).thenReturn(job))
                .<ResponseEntity<?>>map(job -> ResponseEntity.ok().contentType(MediaType.TEXT_EVENT_STREAM)
                        .body(stream(job, request.includeUsage(), permit)))
                // The problem that answers a refused or failed stream is written after this signal: the permit
                // must be back before its client can read it and send its next request.
                .doOnError(error -> permit.release());
    }

    private Mono<Job> submit(RequestParser.Kind kind, String tenant, GenerationRequest request) {
        String jobId = JobService.newJobId();
        JobRequest event = request.toJobRequest(jobId, tenant, jobs.clock().instant());
        Response response = new Response(kind, (kind == RequestParser.Kind.CHAT ? "chatcmpl-" : "cmpl-") + jobId,
                event.createdAt().getEpochSecond(), request.model());
        return jobs.submit(event, request.model())
                .onErrorMap(error -> !(error instanceof ApiProblem),
                        error -> ApiProblem.unavailable("the job could not be queued", error))
                .map(track -> new Job(track, response));
    }

    private Mono<Object> whole(JobTrack track, Response response) {
        AtomicBoolean ended = new AtomicBoolean();
        return jobs.result(track)
                .timeout(properties.limits().completionTimeout())
                .doOnNext(result -> ended.set(true))
                .doOnCancel(() -> cancelUnlessEnded(track, ended, "client disconnected"))
                .onErrorMap(TimeoutException.class, timeout -> {
                    cancelUnlessEnded(track, ended, "completion timed out");
                    return ApiProblem.timeout("the job did not finish within " + properties.limits().completionTimeout());
                })
                .map(result -> response.whole(checked(result)));
    }

    /**
     * Before a stream's 200 goes out: the worker's first word on the job, so that a request it refuses (a chat
     * request for a model without a chat template, a prompt longer than the context...) is answered with a 422
     * problem, as a non-streaming one is, rather than with a stream that fails at once. Waits at most one
     * heartbeat interval, the silence a stream's heartbeats allow anyway; past that the stream starts, and a
     * later refusal ends it with an error chunk.
     */
    private Mono<Void> notRejected(JobTrack track) {
        AtomicBoolean ended = new AtomicBoolean();
        return jobs.events(track, -1)
                .next()
                .timeout(properties.streams().heartbeat(), Mono.empty())
                // The wait is over once the first event is in: a cancel after it (the refusal below cancels its
                // source on the way out) is not the client leaving, and the job needs no CANCEL.
                .doOnNext(first -> ended.set(true))
                .doOnCancel(() -> cancelUnlessEnded(track, ended, "client disconnected"))
                .flatMap(first -> {
                    JobError refusal = switch (first) {
                        case StreamEvent.StatusChanged changed -> changed.status().error();
                        case StreamEvent.Finished finished -> finished.error();
                        default -> null;
                    };
                    return JobError.rejectsRequest(refusal) ? Mono.error(ApiProblem.rejected(refusal)) : Mono.empty();
                });
    }

    private static JobResult checked(JobResult result) {
        if (result.lost() != null) {
            throw ApiProblem.jobFailed(result.lost());
        }
        if (JobError.rejectsRequest(result.finished().error())) {
            throw ApiProblem.rejected(result.finished().error());
        }
        if (result.finished().error() != null) {
            throw ApiProblem.jobFailed("the job failed: " + result.finished().error().code() + ": "
                    + result.finished().error().message());
        }
        return result;
    }

    private Flux<ServerSentEvent<String>> stream(Job job, boolean includeUsage, StreamPermit permit) {
        AtomicBoolean ended = new AtomicBoolean();
        Flux<String> data = jobs.events(job.track(), -1)
                .concatMap(event -> Flux.fromIterable(job.response().chunks(event, includeUsage)))
                .map(json::writeValueAsString)
                .doOnComplete(() -> {
                    ended.set(true);
                    // The job's stream is over: the permit goes back before [DONE] tells the client so.
                    permit.release();
                })
                .startWith(json.writeValueAsString(job.response().firstChunk()))
                .concatWithValues(DONE)
                .doOnCancel(() -> cancelUnlessEnded(job.track(), ended, "client disconnected"));
        return permit.heldBy(shutdown.endOnShutdown(Heartbeats.whileIdle(
                data.map(line -> ServerSentEvent.builder(line).build()), properties.streams().heartbeat())));
    }

    private void cancelUnlessEnded(JobTrack track, AtomicBoolean ended, String reason) {
        if (ended.compareAndSet(false, true)) {
            jobs.cancel(track, reason).subscribe(null, error -> { });
        }
    }

    /** A submitted job and the response that reports it. */
    private record Job(JobTrack track, Response response) {
    }

    /** Builds the OpenAI objects of one response. */
    private record Response(RequestParser.Kind kind, String id, long created, String model) {

        boolean chat() {
            return kind == RequestParser.Kind.CHAT;
        }

        Object firstChunk() {
            return chat()
                    ? new OpenAi.ChatChunk(id, created, model,
                            List.of(new OpenAi.ChunkChoice(0, new OpenAi.Delta("assistant", ""), null, null)), null)
                    : new OpenAi.TextCompletion(id, created, model, List.of(new OpenAi.TextChoice("", 0, null, null)), null);
        }

        List<Object> chunks(StreamEvent event, boolean includeUsage) {
            return switch (event) {
                case StreamEvent.Tokens tokens when tokens.text() != null && !tokens.text().isEmpty() -> List.of(chat()
                        ? new OpenAi.ChatChunk(id, created, model,
                                List.of(new OpenAi.ChunkChoice(0, new OpenAi.Delta(null, tokens.text()), null, null)), null)
                        : new OpenAi.TextCompletion(id, created, model,
                                List.of(new OpenAi.TextChoice(tokens.text(), 0, null, null)), null));
                case StreamEvent.Tokens ignored -> List.of();
                case StreamEvent.StatusChanged ignored -> List.of();
                case StreamEvent.Lost lost -> List.of(new OpenAi.StreamError(lost.detail(), "stream_lost"));
                case StreamEvent.Finished finished when finished.error() != null -> List.of(new OpenAi.StreamError(
                        "the job failed: " + finished.error().code() + ": " + finished.error().message(), "job_failed"));
                case StreamEvent.Finished finished -> {
                    String reason = OpenAi.finishReason(finished.reason());
                    Object last = chat()
                            ? new OpenAi.ChatChunk(id, created, model,
                                    List.of(new OpenAi.ChunkChoice(0, new OpenAi.Delta(null, null), null, reason)), null)
                            : new OpenAi.TextCompletion(id, created, model,
                                    List.of(new OpenAi.TextChoice("", 0, null, reason)), null);
                    if (!includeUsage) {
                        yield List.of(last);
                    }
                    OpenAi.OpenAiUsage usage = OpenAi.OpenAiUsage.of(finished.usage());
                    Object usageChunk = chat()
                            ? new OpenAi.ChatChunk(id, created, model, List.of(), usage)
                            : new OpenAi.TextCompletion(id, created, model, List.of(), usage);
                    yield List.of(last, usageChunk);
                }
            };
        }

        Object whole(JobResult result) {
            StreamEvent.Finished finished = result.finished();
            return chat()
                    ? new OpenAi.ChatCompletion(id, created, model, result.text(), finished.reason(), finished.usage())
                    : new OpenAi.TextCompletion(id, created, model,
                            List.of(new OpenAi.TextChoice(result.text(), 0, null, OpenAi.finishReason(finished.reason()))),
                            OpenAi.OpenAiUsage.of(finished.usage()));
        }
    }
}
