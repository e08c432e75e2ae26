package dev.lethe.gateway.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.jobs.JobHub;
import dev.lethe.gateway.jobs.JobPublisher;
import dev.lethe.gateway.jobs.JobService;
import dev.lethe.gateway.security.ApiKeyFilter;
import dev.lethe.gateway.security.ApiKeys;
import dev.lethe.gateway.security.StreamLimits;
import dev.lethe.gateway.security.TenantRateLimiters;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobError;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.http.server.reactive.MockServerHttpResponse;
import org.springframework.web.reactive.config.EnableWebFlux;
import org.springframework.web.server.adapter.WebHttpHandlerBuilder;
import reactor.core.publisher.Mono;
import tools.jackson.databind.json.JsonMapper;

/**
 * A stream's permit ({@link StreamLimits}) must be back before its response is over as the client sees it
 * (the last byte of a problem, the {@code [DONE]} line or {@code done} event of a stream), or a client that
 * sends its next request at once can be refused with 429 for a stream it no longer holds. The gateway's own
 * web stack (filter, controllers, problem handler) runs here on a mock transport that records, as each part
 * of a response is handed to it, how many streams the tenant holds: no network, no threads, no sleeps.
 */
class StreamPermitReturnTest {

    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String TENANT = "solo";
    private static final String KEY = "key-solo";

    /** What the stand-in worker does with each job request it is sent; set by each test. */
    private volatile Consumer<JobRequest> worker;
    /** When set, sending a job request fails as an unreachable broker makes it fail. */
    private volatile RuntimeException publishFailure;
    private final List<Control> controls = new CopyOnWriteArrayList<>();

    private JobHub hub;
    private StreamLimits limits;
    private AnnotationConfigApplicationContext context;
    private HttpHandler http;

    @Configuration(proxyBeanMethods = false)
    @EnableWebFlux
    static class Web {
    }

    @BeforeEach
    void start() {
        // One stream at a time for the tenant, and heartbeats far apart so that none gets in the way.
        GatewayProperties.Streams streams = new GatewayProperties.Streams(Duration.ofMinutes(1), 100, 100,
                Duration.ofSeconds(2), Duration.ofSeconds(5), 1);
        GatewayProperties properties = new GatewayProperties("test", List.of("lethe-trace"),
                List.of(GatewayProperties.Tenant.withKeys(TENANT, KEY)), GatewayProperties.RateLimit.DEFAULT,
                GatewayProperties.Limits.DEFAULT, streams, GatewayProperties.Kafka.DEFAULT);
        hub = new JobHub((jobId, afterSeq, untilSeq, since) -> Mono.just(List.of()), streams);
        JobPublisher publisher = new JobPublisher() {
            @Override
            public Mono<Void> publish(JobRequest request) {
                return Mono.fromRunnable(() -> {
                    if (publishFailure != null) {
                        throw publishFailure;
                    }
                    worker.accept(request);
                });
            }

            @Override
            public Mono<Void> publish(Control control) {
                return Mono.fromRunnable(() -> controls.add(control));
            }
        };
        JobService jobs = new JobService(hub, publisher, Clock.systemUTC());
        limits = new StreamLimits(properties.streams(), properties.tenants());
        RequestParser parser = new RequestParser(properties);
        StreamShutdown shutdown = new StreamShutdown();
        JsonMapper json = JsonMapper.builder().build();

        context = new AnnotationConfigApplicationContext();
        context.register(Web.class);
        context.registerBean(CompletionsController.class,
                () -> new CompletionsController(jobs, parser, properties, limits, shutdown, json));
        context.registerBean(JobsController.class,
                () -> new JobsController(jobs, parser, properties, limits, shutdown, json));
        context.registerBean(ProblemHandler.class, () -> new ProblemHandler(properties));
        context.registerBean(ApiKeyFilter.class, () -> new ApiKeyFilter(new ApiKeys(properties.tenants()),
                new TenantRateLimiters(properties.rateLimit(), properties.tenants()), limits, json));
        context.refresh();
        http = WebHttpHandlerBuilder.applicationContext(context).build();
    }

    @AfterEach
    void stop() {
        context.close();
    }

    // ---- the tests ----

    @Test
    void aStreamTheWorkerRefusesHasItsPermitBackBeforeThe422GoesOut() {
        worker = this::refuseChat;
        for (int i = 0; i < 2; i++) {
            Sent sent = chat(true, part -> false);
            assertThat(sent.status()).isEqualTo(422);
            assertThat(sent.body()).contains("urn:lethe:problem:request-rejected", "CHAT_NOT_SUPPORTED");
            assertThat(sent.openAtEachPart()).as("streams held as each part of the 422 went out").containsOnly(0);
            assertThat(sent.openAtEnd()).isZero();
        }
        assertThat(limits.open(TENANT)).isZero();
        assertThat(controls).as("no cancel for jobs that ended on their own").isEmpty();
    }

    @Test
    void aStreamWhoseJobCouldNotBeQueuedHasItsPermitBackBeforeThe503GoesOut() {
        publishFailure = new IllegalStateException("broker unreachable");
        Sent sent = chat(true, part -> false);
        assertThat(sent.status()).isEqualTo(503);
        assertThat(sent.openAtEachPart()).as("streams held as each part of the 503 went out").containsOnly(0);
        assertThat(limits.open(TENANT)).isZero();
    }

    @Test
    void aFinishedChatStreamHasItsPermitBackBeforeItsDoneLine() {
        worker = request -> complete(request, 4);
        Sent sent = chat(true, part -> false);
        assertThat(sent.status()).isEqualTo(200);
        assertThat(sent.body()).contains("t0 t1 t2 t3 ", "data:[DONE]");
        // Held while the tokens went out: the test sees a permit where there is one.
        assertThat(sent.openWhenSent("t0 t1 t2 t3 ")).isEqualTo(1);
        assertThat(sent.openWhenSent("[DONE]")).as("streams held as [DONE] went out").isZero();
        assertThat(sent.openAtEnd()).isZero();
        assertThat(limits.open(TENANT)).as("given back once, not twice").isZero();
    }

    @Test
    void aFinishedJobStreamHasItsPermitBackBeforeItsDoneEvent() {
        worker = request -> complete(request, 3);
        Sent submitted = send(HttpMethod.POST, "/v1/jobs", "{\"prompt\": \"hi\", \"max_tokens\": 3}", part -> false);
        assertThat(submitted.status()).isEqualTo(202);
        String id = JsonMapper.builder().build().readTree(submitted.body()).get("id").stringValue();

        Sent sent = send(HttpMethod.GET, "/v1/jobs/" + id + "/events", null, part -> false);
        assertThat(sent.status()).isEqualTo(200);
        assertThat(sent.openWhenSent("event:token")).isEqualTo(1);
        assertThat(sent.openWhenSent("event:done")).as("streams held as the done event went out").isZero();
        assertThat(sent.openAtEnd()).isZero();
        assertThat(limits.open(TENANT)).isZero();
    }

    @Test
    void aStreamTheClientLeavesGivesItsPermitBack() {
        worker = this::hold;
        // The transport stops reading once the held tokens are out: what it does when the client hangs up.
        Sent sent = chat(true, part -> part.contains("t0 t1 "));
        assertThat(sent.status()).isEqualTo(200);
        assertThat(sent.openWhenSent("t0 t1 ")).isEqualTo(1);
        assertThat(sent.openAtEnd()).as("streams held once the transport stopped reading").isZero();
        assertThat(limits.open(TENANT)).as("given back once, not twice").isZero();
        assertThat(controls).singleElement().satisfies(control -> {
            assertThat(control.command()).isEqualTo(Control.Command.CANCEL);
            assertThat(control.reason()).isEqualTo("client disconnected");
        });
        // The tenant may stream again.
        worker = request -> complete(request, 1);
        assertThat(chat(true, part -> false).status()).isEqualTo(200);
    }

    @Test
    void aTenantAtItsLimitIsRefusedWithoutLosingThePermitItHolds() {
        worker = this::hold;
        // The first stream stays open: its transport reads nothing past the held tokens and never ends.
        MockServerHttpResponse held = new MockServerHttpResponse();
        held.setWriteHandler(body -> body.doOnNext(DataBufferUtils::release).then(Mono.never()));
        var holding = http.handle(request(HttpMethod.POST, "/v1/chat/completions", chatBody(true)), held).subscribe();
        try {
            assertThat(limits.open(TENANT)).isEqualTo(1);
            Sent refused = chat(true, part -> false);
            assertThat(refused.status()).isEqualTo(429);
            assertThat(refused.body()).contains("urn:lethe:problem:too-many-streams");
            assertThat(limits.open(TENANT)).isEqualTo(1);
            worker = request -> complete(request, 1);
            assertThat(chat(false, part -> false).status()).as("not streamed, so not limited").isEqualTo(200);
            assertThat(limits.open(TENANT)).isEqualTo(1);
        } finally {
            holding.dispose();
        }
        assertThat(limits.open(TENANT)).isZero();
    }

    // ---- the stand-in worker ----

    /** As a worker whose model has no chat template: the stream's end, then FAILED with CHAT_NOT_SUPPORTED. */
    private void refuseChat(JobRequest request) {
        hub.onTokens(new TokenChunk(request.jobId(), 0, -1, List.of(), "", "w-0", 1, FinishReason.ERROR, Instant.now()));
        hub.onStatus(status(request, JobState.FAILED, -1, FinishReason.ERROR,
                new JobError(JobError.CHAT_NOT_SUPPORTED, "model 'plain' has no chat template")));
    }

    /** Runs the job to its end: tokens {@code "t0 "} to {@code "t<n-1> "}. */
    private void complete(JobRequest request, int tokens) {
        hub.onStatus(status(request, JobState.RUNNING, -1, null, null));
        hub.onTokens(chunk(request, tokens, FinishReason.LENGTH));
        hub.onStatus(status(request, JobState.COMPLETED, tokens - 1, FinishReason.LENGTH, null));
    }

    /** Starts the job, sends two tokens and holds it there. */
    private void hold(JobRequest request) {
        hub.onStatus(status(request, JobState.RUNNING, -1, null, null));
        hub.onTokens(chunk(request, 2, null));
    }

    private static TokenChunk chunk(JobRequest request, int tokens, FinishReason finish) {
        List<Integer> ids = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < tokens; i++) {
            ids.add(100 + i);
            text.append('t').append(i).append(' ');
        }
        return new TokenChunk(request.jobId(), 0, tokens - 1, ids, text.toString(), "w-0", 1, finish, Instant.now());
    }

    private static JobStatus status(JobRequest request, JobState state, long lastSeq, FinishReason finish,
                                    JobError error) {
        return new JobStatus(request.jobId(), request.tenant(), state, "w-0", lastSeq, 3, lastSeq + 1, finish, error,
                List.of(new JobEvent(JobEvent.Type.ACCEPTED, request.createdAt(), "w-0", null)), Instant.now());
    }

    // ---- the mock transport ----

    /**
     * One response as the transport saw it.
     *
     * @param parts         the body as handed over, part by part
     * @param openAtEachPart the tenant's open streams as each part was handed over
     * @param openAtEnd     the tenant's open streams once the body ended (or the transport stopped reading),
     *                      before the exchange itself completed
     */
    private record Sent(int status, List<String> parts, List<Integer> openAtEachPart, int openAtEnd) {

        String body() {
            return String.join("", parts);
        }

        /** Open streams when the part holding {@code text} went out. */
        int openWhenSent(String text) {
            for (int i = 0; i < parts.size(); i++) {
                if (parts.get(i).contains(text)) {
                    return openAtEachPart.get(i);
                }
            }
            throw new AssertionError("no part of the response holds \"" + text + "\": " + parts);
        }
    }

    private Sent chat(boolean stream, Predicate<String> hangUpAfter) {
        return send(HttpMethod.POST, "/v1/chat/completions", chatBody(stream), hangUpAfter);
    }

    private static String chatBody(boolean stream) {
        return "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 4, \"stream\": " + stream + "}";
    }

    private MockServerHttpRequest request(HttpMethod method, String path, String body) {
        MockServerHttpRequest.BodyBuilder builder = MockServerHttpRequest.method(method, path)
                .header(HttpHeaders.AUTHORIZATION, "Bearer " + KEY);
        return body == null ? builder.build() : builder.contentType(MediaType.APPLICATION_JSON).body(body);
    }

    /**
     * Runs one exchange to its end. The transport reads the body part by part, as a server connection writes
     * it, and stops reading (cancels) after the first part that {@code hangUpAfter} accepts.
     */
    private Sent send(HttpMethod method, String path, String body, Predicate<String> hangUpAfter) {
        List<String> parts = new ArrayList<>();
        List<Integer> openAtEachPart = new ArrayList<>();
        int[] openAtEnd = {-1};
        MockServerHttpResponse response = new MockServerHttpResponse();
        response.setWriteHandler(out -> out
                .map(buffer -> {
                    String part = buffer.toString(StandardCharsets.UTF_8);
                    DataBufferUtils.release(buffer);
                    parts.add(part);
                    openAtEachPart.add(limits.open(TENANT));
                    return part;
                })
                .takeUntil(hangUpAfter)
                .then(Mono.fromRunnable(() -> openAtEnd[0] = limits.open(TENANT))));
        http.handle(request(method, path, body), response).block(WAIT);
        // A response that set no status is a 200: the server connection writes that default.
        int status = response.getStatusCode() == null ? 200 : response.getStatusCode().value();
        return new Sent(status, parts, openAtEachPart, openAtEnd[0]);
    }
}
