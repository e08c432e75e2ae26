package dev.lethe.gateway.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.schemas.ChatMessage;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.KvPolicy;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;

class RequestParserTest {

    private final RequestParser parser = new RequestParser(GatewayProperties.defaults());

    @Test
    void mapsOpenAiChatParametersToAJobRequestThatIsAValidEvent() {
        GenerationRequest request = parser.parse(RequestParser.Kind.CHAT, """
                {"model": "lethe-trace",
                 "messages": [{"role": "developer", "content": "Be brief."},
                              {"role": "user", "content": [{"type": "text", "text": "Once "}, {"type": "text", "text": "upon"}]}],
                 "max_completion_tokens": 64, "max_tokens": 9, "temperature": 0.7, "top_p": 0.9, "seed": 42,
                 "stop": ["\\n\\n", "The end"], "n": 1, "top_k": 40, "min_p": 0.05,
                 "kv_policy": {"name": "lethe", "parameters": {"sparse-ratio": 50}}, "priority": 7,
                 "stream": true, "stream_options": {"include_usage": true},
                 "some_future_field": {"ignored": true}}
                """);
        JobRequest job = request.toJobRequest("job-1", "acme", Instant.parse("2026-01-01T00:00:00Z"));

        assertThat(job.messages()).containsExactly(new ChatMessage(ChatMessage.Role.SYSTEM, "Be brief."),
                new ChatMessage(ChatMessage.Role.USER, "Once upon"));
        assertThat(job.prompt()).isNull();
        assertThat(job.model()).isEqualTo("lethe-trace");
        assertThat(job.sampling().maxTokens()).as("max_completion_tokens wins over max_tokens").isEqualTo(64);
        assertThat(job.sampling().temperature()).isEqualTo(0.7);
        assertThat(job.sampling().topP()).isEqualTo(0.9);
        assertThat(job.sampling().topK()).isEqualTo(40);
        assertThat(job.sampling().minP()).isEqualTo(0.05);
        assertThat(job.sampling().seed()).isEqualTo(42L);
        assertThat(job.sampling().stop()).containsExactly("\n\n", "The end");
        assertThat(job.kvPolicy()).isEqualTo(new KvPolicy("lethe", Map.of("sparse-ratio", 50.0)));
        assertThat(job.priority()).isEqualTo(7);
        assertThat(request.stream()).isTrue();
        assertThat(request.includeUsage()).isTrue();
        // What the gateway accepts, the schema accepts: the codec validates while encoding.
        assertThat(new EventCodec().decode(new EventCodec().encode(job), JobRequest.class).orElseThrow()).isEqualTo(job);
    }

    @Test
    void completionTakesAStringOrABatchOfOneAndFillsDefaults() {
        GenerationRequest plain = parser.parse(RequestParser.Kind.COMPLETION, """
                {"prompt": "Once upon a time", "stop": "."}""");
        assertThat(plain.prompt()).isEqualTo("Once upon a time");
        assertThat(plain.messages()).isNull();
        assertThat(plain.requestedModel()).isNull();
        assertThat(plain.model()).isEqualTo("lethe-trace");
        assertThat(plain.sampling().stop()).containsExactly(".");
        assertThat(plain.sampling().maxTokens()).isEqualTo(GatewayProperties.Limits.DEFAULT.defaultMaxTokens());
        assertThat(plain.sampling().temperature()).isEqualTo(1.0);
        assertThat(plain.sampling().seed()).isNull();
        assertThat(plain.priority()).isEqualTo(JobRequest.DEFAULT_PRIORITY);
        assertThat(plain.stream()).isFalse();
        assertThat(plain.kvPolicy()).isNull();

        GenerationRequest batchOfOne = parser.parse(RequestParser.Kind.COMPLETION, """
                {"prompt": ["Hi"], "max_tokens": 5.0, "kv_policy": "streamingllm", "temperature": null}""");
        assertThat(batchOfOne.prompt()).isEqualTo("Hi");
        assertThat(batchOfOne.sampling().maxTokens()).isEqualTo(5);
        assertThat(batchOfOne.kvPolicy()).isEqualTo(new KvPolicy("streamingllm", Map.of()));
        assertThat(batchOfOne.sampling().temperature()).as("null means absent").isEqualTo(1.0);
        assertThat(parser.parse(RequestParser.Kind.COMPLETION, "{\"prompt\": \"x\", \"logprobs\": 0}").prompt())
                .as("no log probabilities asked for").isEqualTo("x");
        assertThat(fieldErrors(RequestParser.Kind.COMPLETION, "{\"prompt\": \"x\", \"logprobs\": 2}"))
                .containsExactly("logprobs");
    }

    @Test
    void jobTakesPromptOrMessagesButNotBoth() {
        assertThat(parser.parse(RequestParser.Kind.JOB, "{\"prompt\": \"x\"}").prompt()).isEqualTo("x");
        assertThat(parser.parse(RequestParser.Kind.JOB, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}")
                .messages()).hasSize(1);
        assertThat(fieldErrors(RequestParser.Kind.JOB, "{\"prompt\": \"x\", \"messages\": []}"))
                .containsExactly("messages");
        assertThat(fieldErrors(RequestParser.Kind.JOB, "{\"max_tokens\": 3}")).containsExactly("prompt");
        assertThat(parser.parse(RequestParser.Kind.JOB, "{\"prompt\": \"x\", \"stream\": true}").stream())
                .as("a job is followed through its events, never streamed from the submission").isFalse();
    }

    @Test
    void reportsEveryBadFieldAtOnce() {
        ApiProblem problem = parse(RequestParser.Kind.CHAT, """
                {"model": "gpt-9", "messages": [{"role": "tool", "content": "x"}, {"role": "user"}, "hello"],
                 "max_tokens": 0, "temperature": 2.5, "top_p": 0, "seed": -1, "n": 2, "top_k": "many",
                 "min_p": 1.5, "stop": ["", "a", 3], "logprobs": true, "priority": 10,
                 "kv_policy": {"name": "Lethe!"}}""");
        assertThat(problem.status()).isEqualTo(HttpStatus.BAD_REQUEST);
        assertThat(problem.errors()).extracting(ApiProblem.FieldError::field).containsExactlyInAnyOrder(
                "model", "messages[0].role", "messages[1].content", "messages[2]", "max_tokens", "temperature",
                "top_p", "seed", "n", "top_k", "min_p", "stop", "logprobs", "priority", "kv_policy.name");
        assertThat(message(problem, "temperature")).isEqualTo("must be at least 0 and at most 2, not 2.5");
        assertThat(message(problem, "top_p")).isEqualTo("must be greater than 0 and at most 1, not 0");
        assertThat(message(problem, "max_tokens")).isEqualTo("must be between 1 and 1048576, not 0");
        assertThat(message(problem, "n")).isEqualTo("must be 1, not 2");
        assertThat(message(problem, "model")).contains("gpt-9").contains("lethe-trace");
        assertThat(problem.detail()).startsWith("15 request fields are invalid");
    }

    @Test
    void boundsAreInclusiveWhereTheSchemaSaysSo() {
        GenerationRequest edge = parser.parse(RequestParser.Kind.COMPLETION, """
                {"prompt": "x", "temperature": 2, "top_p": 1, "max_tokens": 1048576, "seed": 9007199254740991,
                 "min_p": 0, "top_k": 0, "priority": 0}""");
        assertThat(edge.sampling().temperature()).isEqualTo(2.0);
        assertThat(edge.sampling().seed()).isEqualTo(9_007_199_254_740_991L);
        assertThat(fieldErrors(RequestParser.Kind.COMPLETION, "{\"prompt\": \"x\", \"max_tokens\": 1048577}"))
                .containsExactly("max_tokens");
        assertThat(fieldErrors(RequestParser.Kind.COMPLETION, "{\"prompt\": \"x\", \"temperature\": -0.01}"))
                .containsExactly("temperature");
        assertThat(fieldErrors(RequestParser.Kind.COMPLETION, "{\"prompt\": \"x\", \"max_tokens\": 2.5}"))
                .containsExactly("max_tokens");
    }

    @Test
    void limitsPromptLength() {
        GatewayProperties small = new GatewayProperties(null, null, null, GatewayProperties.RateLimit.DEFAULT,
                new GatewayProperties.Limits(10, 100, 16, java.time.Duration.ofSeconds(5),
                        org.springframework.util.unit.DataSize.ofKilobytes(64)),
                GatewayProperties.Streams.DEFAULT, GatewayProperties.Kafka.DEFAULT);
        RequestParser strict = new RequestParser(small);
        assertThat(strict.parse(RequestParser.Kind.COMPLETION, "{\"prompt\": \"0123456789\"}").prompt()).hasSize(10);
        ApiProblem tooLong = catchProblem(() -> strict.parse(RequestParser.Kind.COMPLETION, "{\"prompt\": \"0123456789A\"}"));
        assertThat(tooLong.errors()).containsExactly(new ApiProblem.FieldError("prompt",
                "is 11 characters, more than the limit of 10"));
        ApiProblem chatTooLong = catchProblem(() -> strict.parse(RequestParser.Kind.CHAT, """
                {"messages": [{"role": "system", "content": "012345"}, {"role": "user", "content": "67890"}]}"""));
        assertThat(chatTooLong.errors()).extracting(ApiProblem.FieldError::field).containsExactly("messages");
        assertThat(fieldErrors(RequestParser.Kind.COMPLETION, "{\"prompt\": \"\"}")).containsExactly("prompt");
        assertThat(catchProblem(() -> strict.parse(RequestParser.Kind.COMPLETION, "{\"prompt\": \"x\", \"max_tokens\": 101}"))
                .errors()).extracting(ApiProblem.FieldError::field).containsExactly("max_tokens");
    }

    @Test
    void badJsonIsItsOwnProblem() {
        for (String body : List.of("{\"prompt\": ", "[1, 2]", "", "{\"prompt\": \"x\"} trailing", "null")) {
            ApiProblem problem = parse(RequestParser.Kind.COMPLETION, body);
            assertThat(problem.status()).as(body).isEqualTo(HttpStatus.BAD_REQUEST);
            assertThat(problem.type()).as(body).isEqualTo("malformed-json");
        }
        assertThat(parse(RequestParser.Kind.COMPLETION, "{\"prompt\": ").detail())
                .startsWith("the request body is not valid JSON at line 1");
    }

    private List<String> fieldErrors(RequestParser.Kind kind, String body) {
        return parse(kind, body).errors().stream().map(ApiProblem.FieldError::field).toList();
    }

    private ApiProblem parse(RequestParser.Kind kind, String body) {
        return catchProblem(() -> parser.parse(kind, body));
    }

    private static ApiProblem catchProblem(Runnable call) {
        try {
            call.run();
        } catch (ApiProblem problem) {
            return problem;
        }
        throw new AssertionError("expected an ApiProblem");
    }

    private static String message(ApiProblem problem, String field) {
        return problem.errors().stream().filter(e -> e.field().equals(field)).findFirst().orElseThrow().message();
    }
}
