package dev.lethe.gateway.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;

import dev.lethe.gateway.api.Heartbeats;
import dev.lethe.gateway.ops.KafkaHealth;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ApplicationContext;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.KafkaAdmin;
import org.springframework.kafka.core.ProducerFactory;
import org.springframework.kafka.listener.KafkaMessageListenerContainer;
import org.springframework.kafka.test.EmbeddedKafkaBroker;
import org.springframework.kafka.test.context.EmbeddedKafka;
import org.springframework.kafka.test.utils.ContainerTestUtils;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The gateway against a real in-JVM KRaft broker, with {@link FakeWorker} answering its requests.
 * One Spring context and one broker serve every test; each test uses jobs of its own.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "lethe.gateway.kafka.partitions=3",
        "lethe.gateway.streams.heartbeat=200ms",
        "lethe.gateway.streams.max-chunks-per-job=4",
        "lethe.gateway.streams.usage-wait=5s",
        "lethe.gateway.rate-limit.limit-for-period=1000",
        "lethe.gateway.tenants[0].name=acme",
        "lethe.gateway.tenants[0].api-keys[0]=key-acme",
        "lethe.gateway.tenants[1].name=globex",
        "lethe.gateway.tenants[1].api-keys[0]=key-globex",
        "lethe.gateway.tenants[2].name=tiny",
        "lethe.gateway.tenants[2].api-keys[0]=key-tiny",
        "lethe.gateway.tenants[2].rate-limit.limit-for-period=2",
        "lethe.gateway.tenants[2].rate-limit.refresh-period=1h",
        // printf %s key-hashed | sha256sum: the key itself appears nowhere in the configuration.
        "lethe.gateway.tenants[3].name=hashed",
        "lethe.gateway.tenants[3].api-key-sha256[0]=be35011b541f98c9f5bd192c4994bc8bc45d55f6295d27032976826b64703d3e",
        "lethe.gateway.tenants[3].max-streams=1",
        "lethe.gateway.limits.max-body-size=64KB",
        // Kafka client settings every client must get (the defaults' values, so that the broker still speaks to them).
        "spring.kafka.properties.security.protocol=PLAINTEXT",
        "spring.kafka.properties.client.dns.lookup=use_all_dns_ips",
        "lethe.gateway.tenants[4].name=ops",
        "lethe.gateway.tenants[4].api-keys[0]=key-ops",
        "lethe.gateway.admin.tenants[0]=ops",
        "logging.level.org.apache.kafka=WARN",
        "logging.level.kafka=WARN",
        "logging.level.state.change.logger=WARN",
})
@EmbeddedKafka(partitions = 3, bootstrapServersProperty = "spring.kafka.bootstrap-servers",
        brokerProperties = "group.initial.rebalance.delay.ms=0")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GatewayIntegrationTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final ParameterizedTypeReference<ServerSentEvent<String>> SSE = new ParameterizedTypeReference<>() {
    };

    @LocalServerPort
    int port;
    @Autowired
    EmbeddedKafkaBroker broker;
    @Autowired
    KafkaMessageListenerContainer<String, DecodeResult<TokenChunk>> tokenListenerContainer;
    @Autowired
    KafkaMessageListenerContainer<String, DecodeResult<JobStatus>> statusListenerContainer;

    final JsonMapper json = JsonMapper.builder().build();
    FakeWorker worker;
    WebTestClient web;

    @BeforeAll
    void startWorker() {
        ContainerTestUtils.waitForAssignment(tokenListenerContainer, 3);
        ContainerTestUtils.waitForAssignment(statusListenerContainer, 3);
        worker = new FakeWorker(broker.getBrokersAsString());
        worker.awaitAssignment(WAIT);
    }

    @AfterAll
    void stopWorker() {
        worker.close();
    }

    @BeforeEach
    void client() {
        web = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).responseTimeout(WAIT).build();
    }

    // ---- OpenAI endpoints ----

    @Test
    void streamingChatCompletionSendsTheChunksInOrderThenUsageThenDone() {
        List<ServerSentEvent<String>> events = web.post().uri("/v1/chat/completions")
                .header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("""
                        {"model": "lethe-trace", "messages": [{"role": "user", "content": "tell me a story"}],
                         "max_tokens": 10, "stream": true, "stream_options": {"include_usage": true},
                         "an_unknown_field": 1}""")
                .exchange()
                .expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_EVENT_STREAM)
                .returnResult(SSE).getResponseBody().collectList().block(WAIT);

        List<String> data = events.stream().map(ServerSentEvent::data).filter(d -> d != null).toList();
        assertThat(data.getLast()).isEqualTo("[DONE]");
        List<JsonNode> chunks = data.subList(0, data.size() - 1).stream().map(json::readTree).toList();
        String id = chunks.getFirst().get("id").stringValue();
        assertThat(id).startsWith("chatcmpl-job-");
        for (JsonNode chunk : chunks) {
            assertThat(chunk.get("object").stringValue()).isEqualTo("chat.completion.chunk");
            assertThat(chunk.get("id").stringValue()).isEqualTo(id);
            assertThat(chunk.get("model").stringValue()).isEqualTo("lethe-trace");
            assertThat(chunk.get("created").isIntegralNumber()).isTrue();
        }
        assertThat(chunks.getFirst().at("/choices/0/delta/role").stringValue()).isEqualTo("assistant");
        StringBuilder text = new StringBuilder();
        for (JsonNode chunk : chunks) {
            if (!chunk.get("choices").isEmpty() && chunk.at("/choices/0/delta").has("content")) {
                text.append(chunk.at("/choices/0/delta/content").stringValue());
            }
        }
        assertThat(text.toString()).isEqualTo(FakeWorker.expectedText(10));
        JsonNode finish = chunks.get(chunks.size() - 2);
        assertThat(finish.at("/choices/0/finish_reason").stringValue()).isEqualTo("length");
        JsonNode usage = chunks.getLast();
        assertThat(usage.get("choices").isEmpty()).isTrue();
        assertThat(usage.at("/usage/prompt_tokens").longValue()).isEqualTo(4);
        assertThat(usage.at("/usage/completion_tokens").longValue()).isEqualTo(10);
        assertThat(usage.at("/usage/total_tokens").longValue()).isEqualTo(14);

        JobRequest sent = requestFor(id.substring("chatcmpl-".length()));
        assertThat(sent.tenant()).isEqualTo("acme");
        assertThat(sent.sampling().maxTokens()).isEqualTo(10);
    }

    @Test
    void nonStreamingCompletionsReturnTheWholeTextAndUsage() {
        JsonNode chat = postJson("/v1/chat/completions", "key-acme", """
                {"messages": [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hi"}],
                 "max_completion_tokens": 7, "temperature": 0, "seed": 3, "stop": "\\n"}""");
        assertThat(chat.get("object").stringValue()).isEqualTo("chat.completion");
        assertThat(chat.at("/choices/0/message/role").stringValue()).isEqualTo("assistant");
        assertThat(chat.at("/choices/0/message/content").stringValue()).isEqualTo(FakeWorker.expectedText(7));
        assertThat(chat.at("/choices/0/finish_reason").stringValue()).isEqualTo("length");
        assertThat(chat.at("/usage/prompt_tokens").longValue()).isEqualTo(3);
        assertThat(chat.at("/usage/completion_tokens").longValue()).isEqualTo(7);
        assertThat(chat.at("/usage/total_tokens").longValue()).isEqualTo(10);
        JobRequest sent = requestFor(chat.get("id").stringValue().substring("chatcmpl-".length()));
        assertThat(sent.sampling().temperature()).isZero();
        assertThat(sent.sampling().seed()).isEqualTo(3L);
        assertThat(sent.sampling().stop()).containsExactly("\n");

        JsonNode completion = postJson("/v1/completions", "key-acme", """
                {"prompt": "Once upon a time", "max_tokens": 5}""");
        assertThat(completion.get("object").stringValue()).isEqualTo("text_completion");
        assertThat(completion.at("/choices/0/text").stringValue()).isEqualTo(FakeWorker.expectedText(5));
        assertThat(completion.at("/usage/prompt_tokens").longValue()).isEqualTo(4);
        assertThat(completion.at("/usage/completion_tokens").longValue()).isEqualTo(5);
    }

    @Test
    void streamingTextCompletionUsesTextCompletionChunks() {
        List<String> data = web.post().uri("/v1/completions")
                .header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"prompt\": \"a b\", \"max_tokens\": 8, \"stream\": true}")
                .exchange().expectStatus().isOk()
                .returnResult(SSE).getResponseBody().mapNotNull(ServerSentEvent::data).collectList().block(WAIT);
        assertThat(data.getLast()).isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        for (String line : data.subList(0, data.size() - 1)) {
            JsonNode chunk = json.readTree(line);
            assertThat(chunk.get("object").stringValue()).isEqualTo("text_completion");
            assertThat(chunk.has("usage")).as("no usage unless asked").isFalse();
            text.append(chunk.at("/choices/0/text").stringValue());
        }
        assertThat(text.toString()).isEqualTo(FakeWorker.expectedText(8));
        assertThat(json.readTree(data.get(data.size() - 2)).at("/choices/0/finish_reason").stringValue())
                .isEqualTo("length");
    }

    @Test
    void modelsListsTheConfiguredModels() {
        JsonNode models = getJson("/v1/models", "key-acme");
        assertThat(models.get("object").stringValue()).isEqualTo("list");
        assertThat(models.at("/data/0/id").stringValue()).isEqualTo("lethe-trace");
        assertThat(models.at("/data/0/object").stringValue()).isEqualTo("model");
    }

    @Test
    void theOfficialOpenAiJavaClientWorksUnmodified() {
        OpenAIClient client = OpenAIOkHttpClient.builder()
                .apiKey("key-acme")
                .baseUrl("http://localhost:" + port + "/v1")
                .maxRetries(0)
                .build();
        try {
            ChatCompletion completion = client.chat().completions().create(ChatCompletionCreateParams.builder()
                    .model("lethe-trace").addSystemMessage("be brief").addUserMessage("hello there")
                    .maxCompletionTokens(6).temperature(0.0).build());
            assertThat(completion.choices().getFirst().message().content()).hasValue(FakeWorker.expectedText(6));
            assertThat(completion.choices().getFirst().finishReason())
                    .isEqualTo(ChatCompletion.Choice.FinishReason.LENGTH);
            assertThat(completion.usage().orElseThrow().promptTokens()).isEqualTo(4);
            assertThat(completion.usage().orElseThrow().completionTokens()).isEqualTo(6);
            completion.validate(); // every required field present with the right type

            StringBuilder streamed = new StringBuilder();
            List<ChatCompletionChunk> chunks;
            try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
                    ChatCompletionCreateParams.builder().model("lethe-trace").addUserMessage("stream it")
                            .maxCompletionTokens(9)
                            .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
                            .build())) {
                chunks = stream.stream().toList();
            }
            chunks.forEach(ChatCompletionChunk::validate);
            chunks.stream().flatMap(c -> c.choices().stream())
                    .forEach(choice -> choice.delta().content().ifPresent(streamed::append));
            assertThat(streamed.toString()).isEqualTo(FakeWorker.expectedText(9));
            assertThat(chunks.getLast().usage().orElseThrow().totalTokens()).isEqualTo(2 + 9);

            Completion text = client.completions().create(CompletionCreateParams.builder()
                    .model("lethe-trace").prompt("Once upon a time").maxTokens(4).build());
            assertThat(text.choices().getFirst().text()).isEqualTo(FakeWorker.expectedText(4));
            text.validate();

            assertThat(client.models().list().data()).extracting(Model::id).containsExactly("lethe-trace");

            assertThatThrownBy(() -> client.chat().completions().create(ChatCompletionCreateParams.builder()
                    .model("lethe-trace").addUserMessage("x").temperature(3.0).build()))
                    .isInstanceOf(BadRequestException.class)
                    .hasMessageContaining("temperature");
        } finally {
            client.close();
        }
        OpenAIClient stranger = OpenAIOkHttpClient.builder().apiKey("not-a-key")
                .baseUrl("http://localhost:" + port + "/v1").maxRetries(0).build();
        try {
            assertThatThrownBy(() -> stranger.models().list()).isInstanceOf(UnauthorizedException.class);
        } finally {
            stranger.close();
        }
    }

    // ---- async jobs ----

    @Test
    void asyncJobRunsAndItsEventsResumeWithoutGapOrRepeat() {
        var submitted = web.post().uri("/v1/jobs")
                .header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("""
                        {"prompt": "the long job", "max_tokens": 40, "seed": 9, "kv_policy": "lethe", "priority": 8}""")
                .exchange()
                .expectStatus().isAccepted()
                .expectBody(String.class).returnResult();
        JsonNode job = json.readTree(submitted.getResponseBody());
        String id = job.get("id").stringValue();
        assertThat(submitted.getResponseHeaders().getLocation()).hasToString("/v1/jobs/" + id);
        assertThat(job.get("state").stringValue()).isEqualTo("QUEUED");
        JobRequest sent = requestFor(id);
        assertThat(sent.priority()).isEqualTo(8);
        assertThat(sent.kvPolicy().name()).isEqualTo("lethe");
        assertThat(sent.sampling().seed()).isEqualTo(9L);

        JsonNode done = awaitState(id, "key-acme", "COMPLETED");
        assertThat(done.at("/output/text").stringValue()).isEqualTo(FakeWorker.expectedText(40));
        assertThat(done.at("/usage/completion_tokens").longValue()).isEqualTo(40);
        assertThat(done.at("/usage/prompt_tokens").longValue()).isEqualTo(3);
        assertThat(done.get("last_seq").longValue()).isEqualTo(39);
        assertThat(done.get("finish_reason").stringValue()).isEqualTo("length");

        // The gateway keeps 4 chunks (12 tokens) per job: most of this comes back from Kafka.
        List<ServerSentEvent<String>> all = events(id, "key-acme", null, null);
        assertThat(tokenText(all)).isEqualTo(FakeWorker.expectedText(40));
        assertThat(all.getLast().event()).isEqualTo("done");
        assertThat(json.readTree(all.getLast().data()).get("finish_reason").stringValue()).isEqualTo("length");

        // A client that saw events up to the 4th token event resumes by starting_after and by Last-Event-ID.
        List<ServerSentEvent<String>> tokenEvents = all.stream().filter(e -> "token".equals(e.event())).toList();
        String resumeAt = tokenEvents.get(3).id();
        assertThat(resumeAt).isEqualTo("11");
        String seen = tokenText(all.subList(0, all.indexOf(tokenEvents.get(3)) + 1));
        for (var rest : List.of(events(id, "key-acme", resumeAt, null), events(id, "key-acme", null, resumeAt))) {
            assertThat(seen + tokenText(rest)).isEqualTo(FakeWorker.expectedText(40));
            List<Long> ids = rest.stream().filter(e -> "token".equals(e.event())).map(e -> Long.parseLong(e.id())).toList();
            assertThat(ids.getFirst()).isEqualTo(14);
            assertThat(ids).isSorted().doesNotHaveDuplicates();
        }
        // Last-Event-ID wins over starting_after, as a browser's reconnect sends both.
        assertThat(tokenText(events(id, "key-acme", "2", "35"))).isEqualTo("w36 w37 w38 w39 ");
    }

    @Test
    void cancelSendsAControlCommandAndTheJobEndsCancelled() {
        JsonNode job = submit("key-acme", "{\"prompt\": \"wait " + FakeWorker.HOLD + "\", \"max_tokens\": 50}");
        String id = job.get("id").stringValue();
        awaitState(id, "key-acme", "RUNNING");

        // A follower sees the held tokens and heartbeats while the job waits, then the end.
        var follower = web.get().uri("/v1/jobs/" + id + "/events")
                .header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .accept(MediaType.TEXT_EVENT_STREAM)
                .exchange().expectStatus().isOk()
                .returnResult(SSE).getResponseBody().collectList().toFuture();
        sleep(700);

        web.post().uri("/v1/jobs/" + id + "/cancel").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .exchange().expectStatus().isAccepted();
        Control control = awaitControl(id);
        assertThat(control.command()).isEqualTo(Control.Command.CANCEL);

        JsonNode cancelled = awaitState(id, "key-acme", "CANCELLED");
        assertThat(cancelled.at("/output/text").stringValue()).isEqualTo(FakeWorker.expectedText(FakeWorker.HELD_TOKENS));
        assertThat(cancelled.get("finish_reason").stringValue()).isEqualTo("cancelled");

        List<ServerSentEvent<String>> events = follower.join();
        assertThat(events).anyMatch(e -> "keep-alive".equals(e.comment()));
        assertThat(tokenText(events)).isEqualTo(FakeWorker.expectedText(FakeWorker.HELD_TOKENS));
        assertThat(json.readTree(events.getLast().data()).get("finish_reason").stringValue()).isEqualTo("cancelled");

        problem(web.post().uri("/v1/jobs/" + id + "/cancel").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .exchange(), 409);
    }

    @Test
    void aJobsStateSaysWhenItsCheckpointsAreFailing() {
        String id = submit("key-acme", "{\"prompt\": \"" + FakeWorker.HOLD + FakeWorker.CHECKPOINTS_FAILING
                + "\", \"max_tokens\": 50}").get("id").stringValue();
        long deadline = System.nanoTime() + WAIT.toNanos();
        JsonNode job = getJson("/v1/jobs/" + id, "key-acme");
        while (job.get("checkpoints") == null && System.nanoTime() < deadline) {
            sleep(50);
            job = getJson("/v1/jobs/" + id, "key-acme");
        }
        assertThat(job.get("state").stringValue()).isEqualTo("RUNNING");
        assertThat(job.at("/checkpoints/state").stringValue()).isEqualTo("FAILING");
        assertThat(job.at("/checkpoints/failures").longValue()).isEqualTo(3);
        assertThat(job.at("/checkpoints/last_error").stringValue()).isEqualTo(FakeWorker.STORE_ERROR);
        assertThat(job.at("/checkpoints/last_checkpoint_seq").longValue()).isZero();
        assertThat(job.at("/checkpoints/failing_since").stringValue()).isNotBlank();
        web.post().uri("/v1/jobs/" + id + "/cancel").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .exchange().expectStatus().isAccepted();
    }

    @Test
    void anAdministratorPreemptsAnyTenantsJobAndOthersMayNot() {
        JsonNode job = submit("key-acme", "{\"prompt\": \"wait " + FakeWorker.HOLD + "\", \"max_tokens\": 50}");
        String id = job.get("id").stringValue();
        awaitState(id, "key-acme", "RUNNING");
        problem(web.post().uri("/v1/jobs/" + id + "/preempt").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .exchange(), 403);
        assertThat(worker.controls).noneMatch(c -> c.jobId().equals(id));
        problem(web.post().uri("/v1/jobs/no-such-job/preempt").header(HttpHeaders.AUTHORIZATION, "Bearer key-ops")
                .exchange(), 404);

        web.post().uri("/v1/jobs/" + id + "/preempt").header(HttpHeaders.AUTHORIZATION, "Bearer key-ops")
                .exchange().expectStatus().isAccepted();
        Control control = awaitControl(id);
        assertThat(control.command()).isEqualTo(Control.Command.PREEMPT);
        assertThat(control.reason()).contains("administrator");

        JsonNode running = awaitState(id, "key-acme", "RUNNING");
        assertThat(running.at("/recovery/owners/0").stringValue()).isEqualTo(FakeWorker.WORKER);

        String ended = submit("key-acme", "{\"prompt\": \"short\", \"max_tokens\": 2}").get("id").stringValue();
        awaitState(ended, "key-acme", "COMPLETED");
        problem(web.post().uri("/v1/jobs/" + ended + "/preempt").header(HttpHeaders.AUTHORIZATION, "Bearer key-ops")
                .exchange(), 409);
    }

    // ---- errors, tenants, limits ----

    @Test
    void badRequestsGetProblemDetails() {
        JsonNode invalid = problem(post("/v1/chat/completions", "key-acme", """
                {"messages": [{"role": "user", "content": "x"}], "temperature": 2.5, "top_p": 0, "max_tokens": 0}"""),
                400);
        assertThat(invalid.get("type").stringValue()).isEqualTo("urn:lethe:problem:invalid-request");
        assertThat(invalid.get("title").stringValue()).isEqualTo("Invalid request");
        List<String> fields = new ArrayList<>();
        invalid.get("errors").forEach(e -> fields.add(e.get("field").stringValue()));
        assertThat(fields).containsExactlyInAnyOrder("temperature", "top_p", "max_tokens");
        assertThat(invalid.at("/error/message").stringValue()).isEqualTo(invalid.get("detail").stringValue());

        JsonNode badJson = problem(post("/v1/completions", "key-acme", "{\"prompt\": "), 400);
        assertThat(badJson.get("type").stringValue()).isEqualTo("urn:lethe:problem:malformed-json");
        assertThat(badJson.get("detail").stringValue()).contains("not valid JSON");

        problem(post("/v1/jobs", "key-acme", "{\"prompt\": \"x\", \"n\": 3}"), 400);
        JsonNode unknown = problem(web.get().uri("/v1/jobs/job-nope").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .exchange(), 404);
        assertThat(unknown.get("detail").stringValue()).isEqualTo("no job with id job-nope");
        problem(web.get().uri("/v1/jobs/job-nope/events?starting_after=x")
                .header(HttpHeaders.AUTHORIZATION, "Bearer key-acme").exchange(), 400);
        // An SSE client that accepts only event streams still gets the problem.
        problem(web.get().uri("/v1/jobs/job-nope/events").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .accept(MediaType.TEXT_EVENT_STREAM).exchange(), 404);
        problem(web.get().uri("/v1/chat/completions").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .exchange(), 405);
        problem(web.get().uri("/v1/nothing-here").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .exchange(), 404);
    }

    @Test
    void aChatRequestTheModelCannotServeGets422WhetherStreamedOrNot() {
        for (boolean stream : List.of(false, true)) {
            JsonNode rejected = problem(post("/v1/chat/completions", "key-acme", """
                    {"messages": [{"role": "user", "content": "%s hi"}], "stream": %s}"""
                    .formatted(FakeWorker.NO_CHAT_TEMPLATE, stream)), 422);
            assertThat(rejected.get("type").stringValue()).isEqualTo("urn:lethe:problem:request-rejected");
            assertThat(rejected.get("detail").stringValue())
                    .startsWith("CHAT_NOT_SUPPORTED: ").contains("no chat template");
            assertThat(rejected.at("/error/type").stringValue()).isEqualTo("request-rejected");
        }
        // A refused stream gives its permit back: tenant "hashed" may hold one stream, and gets 422 twice, not 429.
        for (int i = 0; i < 2; i++) {
            problem(post("/v1/chat/completions", "key-hashed", """
                    {"messages": [{"role": "user", "content": "%s"}], "stream": true}"""
                    .formatted(FakeWorker.NO_CHAT_TEMPLATE)), 422);
        }
        // The same request for a model that can chat streams as usual.
        List<ServerSentEvent<String>> events = post("/v1/chat/completions", "key-hashed", """
                {"messages": [{"role": "user", "content": "hi"}], "stream": true, "max_tokens": 4}""")
                .expectStatus().isOk().returnResult(SSE).getResponseBody().collectList().block(WAIT);
        assertThat(tokenTextOfChat(events)).isEqualTo(FakeWorker.expectedText(4));
    }

    @Test
    void anOpenAiStreamSendsHeartbeatsWhileWaitingAndCancelsItsJobWhenTheClientLeaves() {
        List<ServerSentEvent<String>> received = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<ServerSentEvent<String>> seen = web.post().uri("/v1/chat/completions")
                .header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"messages\": [{\"role\": \"user\", \"content\": \"" + FakeWorker.HOLD
                        + "\"}], \"stream\": true}")
                .exchange().expectStatus().isOk()
                .returnResult(SSE).getResponseBody()
                .doOnNext(received::add)
                // Once the held tokens are in and a heartbeat follows, hang up. (On a busy machine the first
                // heartbeat can come before the tokens.)
                .takeUntil(event -> Heartbeats.COMMENT.equals(event.comment())
                        && tokenTextOfChat(received).equals(FakeWorker.expectedText(FakeWorker.HELD_TOKENS)))
                .collectList().block(WAIT);
        assertThat(seen.getLast().comment()).isEqualTo(Heartbeats.COMMENT);
        String id = json.readTree(seen.getFirst().data()).get("id").stringValue();
        String jobId = id.substring("chatcmpl-".length());
        assertThat(tokenTextOfChat(seen)).isEqualTo(FakeWorker.expectedText(FakeWorker.HELD_TOKENS));

        Control control = awaitControl(jobId);
        assertThat(control).as("a CANCEL for the abandoned job").isNotNull();
        assertThat(control.command()).isEqualTo(Control.Command.CANCEL);
        assertThat(control.reason()).isEqualTo("client disconnected");
    }

    @Test
    void aTenantSeesOnlyItsOwnJobs() {
        String id = submit("key-acme", "{\"prompt\": \"mine\", \"max_tokens\": 2}").get("id").stringValue();
        awaitState(id, "key-acme", "COMPLETED");
        problem(web.get().uri("/v1/jobs/" + id).header(HttpHeaders.AUTHORIZATION, "Bearer key-globex").exchange(), 404);
        problem(web.get().uri("/v1/jobs/" + id + "/events").header(HttpHeaders.AUTHORIZATION, "Bearer key-globex")
                .exchange(), 404);
        problem(web.post().uri("/v1/jobs/" + id + "/cancel").header(HttpHeaders.AUTHORIZATION, "Bearer key-globex")
                .exchange(), 404);
        assertThat(worker.controls).noneMatch(c -> c.jobId().equals(id));
    }

    @Test
    void aKeyIsRequired() {
        JsonNode missing = problem(web.get().uri("/v1/models").exchange(), 401);
        assertThat(missing.get("detail").stringValue()).contains("Authorization: Bearer");
        web.get().uri("/v1/models").header(HttpHeaders.AUTHORIZATION, "Bearer wrong").exchange()
                .expectStatus().isUnauthorized()
                .expectHeader().valueEquals(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
        problem(post("/v1/jobs", "wrong", "{\"prompt\": \"x\"}"), 401);
        assertThat(worker.requests).noneMatch(r -> r.prompt() != null && r.prompt().equals("x"));
    }

    @Test
    void aTenantOverItsRateLimitGets429() {
        for (int i = 0; i < 2; i++) {
            web.get().uri("/v1/models").header(HttpHeaders.AUTHORIZATION, "Bearer key-tiny").exchange()
                    .expectStatus().isOk();
        }
        var over = web.get().uri("/v1/models").header(HttpHeaders.AUTHORIZATION, "Bearer key-tiny").exchange();
        over.expectHeader().valueEquals(HttpHeaders.RETRY_AFTER, "3600");
        JsonNode problem = problem(over, 429);
        assertThat(problem.get("detail").stringValue()).contains("tiny");
        // Other tenants are not affected.
        web.get().uri("/v1/models").header(HttpHeaders.AUTHORIZATION, "Bearer key-globex").exchange()
                .expectStatus().isOk();
    }

    // ---- operations: keys, probes, metrics, limits, Kafka client settings ----

    @Test
    void aKeyConfiguredOnlyAsItsDigestActsAsItsTenant() {
        String id = submit("key-hashed", "{\"prompt\": \"hashed\", \"max_tokens\": 3}").get("id").stringValue();
        assertThat(requestFor(id).tenant()).isEqualTo("hashed");
        awaitState(id, "key-hashed", "COMPLETED");
        problem(web.get().uri("/v1/models").header(HttpHeaders.AUTHORIZATION,
                "Bearer be35011b541f98c9f5bd192c4994bc8bc45d55f6295d27032976826b64703d3e").exchange(), 401);
    }

    @Test
    void everyApiEndpointNeedsAKey() {
        String id = submit("key-acme", "{\"prompt\": \"guarded\", \"max_tokens\": 2}").get("id").stringValue();
        List<WebTestClient.RequestHeadersSpec<?>> calls = List.of(
                web.get().uri("/v1/models"),
                web.get().uri("/v1/jobs/" + id),
                web.get().uri("/v1/jobs/" + id + "/events"),
                web.post().uri("/v1/jobs/" + id + "/cancel"),
                web.post().uri("/v1/jobs").contentType(MediaType.APPLICATION_JSON).bodyValue("{\"prompt\": \"x\"}"),
                web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON).bodyValue("{\"prompt\": \"x\"}"),
                web.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                        .bodyValue("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}"));
        for (var call : calls) {
            problem(call.exchange(), 401);
        }
        assertThat(worker.controls).noneMatch(c -> c.jobId().equals(id));
    }

    @Test
    void probesAndMetricsNeedNoKeyAndReadinessReflectsKafka() {
        JsonNode liveness = json.readTree(web.get().uri("/actuator/health/liveness").exchange()
                .expectStatus().isOk().expectBody(String.class).returnResult().getResponseBody());
        assertThat(liveness.get("status").stringValue()).isEqualTo("UP");
        JsonNode readiness = json.readTree(web.get().uri("/actuator/health/readiness").exchange()
                .expectStatus().isOk().expectBody(String.class).returnResult().getResponseBody());
        assertThat(readiness.get("status").stringValue()).isEqualTo("UP");
        assertThat(readiness.at("/components/kafka/status").stringValue()).isEqualTo("UP");
        assertThat(readiness.at("/components/kafka/details/brokers").intValue()).isEqualTo(1);

        web.get().uri("/v1/models").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme").exchange().expectStatus().isOk();
        String metrics = web.get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(metrics).contains("lethe_gateway_jobs_tracked", "lethe_gateway_streams_limit{tenant=\"hashed\"} 1.0",
                "lethe_gateway_streams_open{tenant=\"acme\"}", "http_server_requests_seconds_count{", "jvm_memory_used_bytes");
    }

    @Test
    void aTenantMayHoldOnlyItsLimitOfStreams() {
        String id = submit("key-hashed", "{\"prompt\": \"" + FakeWorker.HOLD + "\", \"max_tokens\": 9}")
                .get("id").stringValue();
        awaitState(id, "key-hashed", "RUNNING");
        var first = web.get().uri("/v1/jobs/" + id + "/events").header(HttpHeaders.AUTHORIZATION, "Bearer key-hashed")
                .accept(MediaType.TEXT_EVENT_STREAM).exchange().expectStatus().isOk()
                .returnResult(SSE).getResponseBody().subscribe();
        try {
            JsonNode refused = problem(web.get().uri("/v1/jobs/" + id + "/events")
                    .header(HttpHeaders.AUTHORIZATION, "Bearer key-hashed").exchange(), 429);
            assertThat(refused.get("type").stringValue()).isEqualTo("urn:lethe:problem:too-many-streams");
            int requestsBefore = worker.requests.size();
            problem(post("/v1/completions", "key-hashed", "{\"prompt\": \"x\", \"stream\": true}"), 429);
            // Not streamed, so not limited.
            post("/v1/completions", "key-hashed", "{\"prompt\": \"x\", \"max_tokens\": 1}").expectStatus().isOk();
            assertThat(worker.requests).as("only the non-streamed completion was submitted").hasSize(requestsBefore + 1);
            // Other tenants are not affected.
            web.get().uri("/v1/jobs/job-x/events").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme").exchange()
                    .expectStatus().isNotFound();
        } finally {
            first.dispose();
        }
        // The permit comes back once the gateway sees the client gone.
        long deadline = System.nanoTime() + WAIT.toNanos();
        int status;
        do {
            sleep(50);
            var again = web.get().uri("/v1/jobs/" + id + "/events").header(HttpHeaders.AUTHORIZATION, "Bearer key-hashed")
                    .accept(MediaType.TEXT_EVENT_STREAM).exchange();
            status = again.returnResult(SSE).getStatus().value();
            if (status == 200) {
                again.returnResult(SSE).getResponseBody().subscribe().dispose();
            }
        } while (status != 200 && System.nanoTime() < deadline);
        assertThat(status).isEqualTo(200);
        web.post().uri("/v1/jobs/" + id + "/cancel").header(HttpHeaders.AUTHORIZATION, "Bearer key-hashed")
                .exchange().expectStatus().isAccepted();
    }

    @Test
    void aBodyOverTheSizeLimitGets413WithOrWithoutALength() {
        String big = "{\"prompt\": \"" + "x".repeat(70 * 1024) + "\"}";
        JsonNode declared = problem(post("/v1/jobs", "key-acme", big), 413);
        assertThat(declared.get("detail").stringValue()).contains(Long.toString(64 * 1024));
        // Chunked: no Content-Length, so only the codec's buffer limit can stop it.
        var buffers = reactor.core.publisher.Flux.range(0, 70)
                .<org.springframework.core.io.buffer.DataBuffer>map(i -> org.springframework.core.io.buffer.DefaultDataBufferFactory.sharedInstance
                        .wrap(("{\"prompt\": \"" + "y".repeat(1024)).getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        JsonNode chunked = problem(web.post().uri("/v1/completions").header(HttpHeaders.AUTHORIZATION, "Bearer key-acme")
                .contentType(MediaType.APPLICATION_JSON)
                .body(org.springframework.web.reactive.function.BodyInserters.fromDataBuffers(buffers)).exchange(), 413);
        assertThat(chunked.get("type").stringValue()).isEqualTo("urn:lethe:problem:body-too-large");
        // Just under the limit is fine.
        post("/v1/jobs", "key-acme", "{\"prompt\": \"" + "x".repeat(60 * 1024) + "\", \"max_tokens\": 1}")
                .expectStatus().isAccepted();
    }

    @Test
    void kafkaSecuritySettingsReachEveryKafkaClientOfTheGateway(@Autowired ApplicationContext context) {
        List<Map<String, Object>> configs = new ArrayList<>();
        context.getBeansOfType(ProducerFactory.class).values().forEach(f -> configs.add(f.getConfigurationProperties()));
        Map<String, ConsumerFactory> consumers = context.getBeansOfType(ConsumerFactory.class);
        assertThat(consumers.keySet()).as("live tokens, job states, read-back")
                .containsExactlyInAnyOrder("tokenConsumerFactory", "statusConsumerFactory", "replayConsumerFactory");
        consumers.values().forEach(f -> configs.add(f.getConfigurationProperties()));
        context.getBeansOfType(KafkaAdmin.class).values().forEach(a -> configs.add(a.getConfigurationProperties()));
        configs.add(context.getBean(KafkaHealth.class).clientConfig());
        assertThat(configs).hasSize(6);
        for (Map<String, Object> config : configs) {
            assertThat(config).containsEntry("security.protocol", "PLAINTEXT")
                    .containsEntry("client.dns.lookup", "use_all_dns_ips");
        }
    }

    // ---- helpers ----

    private JobRequest requestFor(String jobId) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (JobRequest request : worker.requests) {
                if (request.jobId().equals(jobId)) {
                    return request;
                }
            }
            sleep(20);
        }
        throw new AssertionError("the worker never got a request for " + jobId);
    }

    private Control awaitControl(String jobId) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (Control control : worker.controls) {
                if (control.jobId().equals(jobId)) {
                    return control;
                }
            }
            sleep(20);
        }
        throw new AssertionError("the worker never got a command for " + jobId);
    }

    private JsonNode submit(String key, String body) {
        return json.readTree(post("/v1/jobs", key, body).expectStatus().isAccepted()
                .expectBody(String.class).returnResult().getResponseBody());
    }

    private WebTestClient.ResponseSpec post(String path, String key, String body) {
        return web.post().uri(path).header(HttpHeaders.AUTHORIZATION, "Bearer " + key)
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private JsonNode postJson(String path, String key, String body) {
        return json.readTree(post(path, key, body).expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_JSON)
                .expectBody(String.class).returnResult().getResponseBody());
    }

    private JsonNode getJson(String path, String key) {
        return json.readTree(web.get().uri(path).header(HttpHeaders.AUTHORIZATION, "Bearer " + key).exchange()
                .expectStatus().isOk().expectBody(String.class).returnResult().getResponseBody());
    }

    private JsonNode problem(WebTestClient.ResponseSpec response, int status) {
        String body = response.expectStatus().isEqualTo(status)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody(String.class).returnResult().getResponseBody();
        JsonNode problem = json.readTree(body);
        assertThat(problem.get("status").intValue()).isEqualTo(status);
        assertThat(problem.get("title").stringValue()).isNotBlank();
        assertThat(problem.get("detail").stringValue()).isNotBlank();
        assertThat(problem.get("type").stringValue()).startsWith("urn:lethe:problem:");
        return problem;
    }

    private JsonNode awaitState(String id, String key, String state) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        JsonNode job = null;
        while (System.nanoTime() < deadline) {
            job = getJson("/v1/jobs/" + id, key);
            if (job.get("state").stringValue().equals(state)) {
                return job;
            }
            sleep(50);
        }
        throw new AssertionError("job " + id + " never reached " + state + "; last seen " + job);
    }

    private List<ServerSentEvent<String>> events(String id, String key, String startingAfter, String lastEventId) {
        return web.get()
                .uri(builder -> {
                    builder.path("/v1/jobs/" + id + "/events");
                    if (startingAfter != null) {
                        builder.queryParam("starting_after", startingAfter);
                    }
                    return builder.build();
                })
                .headers(h -> {
                    h.set(HttpHeaders.AUTHORIZATION, "Bearer " + key);
                    if (lastEventId != null) {
                        h.set("Last-Event-ID", lastEventId);
                    }
                })
                .accept(MediaType.TEXT_EVENT_STREAM)
                .exchange().expectStatus().isOk()
                .returnResult(SSE).getResponseBody().collectList().block(WAIT);
    }

    private String tokenText(List<ServerSentEvent<String>> events) {
        StringBuilder text = new StringBuilder();
        for (ServerSentEvent<String> event : events) {
            if ("token".equals(event.event())) {
                text.append(json.readTree(event.data()).get("text").stringValue());
            }
        }
        return text.toString();
    }

    private String tokenTextOfChat(List<ServerSentEvent<String>> events) {
        StringBuilder text = new StringBuilder();
        for (ServerSentEvent<String> event : events) {
            if (event.data() != null && !event.data().equals("[DONE]")) {
                JsonNode delta = json.readTree(event.data()).at("/choices/0/delta/content");
                if (delta.isString()) {
                    text.append(delta.stringValue());
                }
            }
        }
        return text.toString();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
