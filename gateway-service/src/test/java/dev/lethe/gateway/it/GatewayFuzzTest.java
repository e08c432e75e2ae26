package dev.lethe.gateway.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lethe.gateway.jobs.JobHub;
import dev.lethe.gateway.jobs.JobPublisher;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ApplicationContext;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.convention.TestBean;
import org.springframework.test.web.reactive.server.EntityExchangeResult;
import org.springframework.test.web.reactive.server.WebTestClient;
import reactor.core.publisher.Mono;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * More than 10,000 random and mutated requests to every endpoint of the gateway, in-process (no network,
 * no broker): the job publisher is replaced by {@link InstantWorker}, which ends every job at once with
 * a few tokens, or fails to queue it now and then as if Kafka were away. Every response must be a
 * success or an RFC 9457 problem detail with a documented status, never another 5xx.
 *
 * <p>Logs are JSON (ECS) in this context, which also shows that a queued job's log line carries its id
 * as the field {@code jobId}. The random seed is printed; a failure names the request that caused it.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.MOCK, properties = {
        "spring.kafka.bootstrap-servers=localhost:1",
        "spring.kafka.listener.auto-startup=false",
        "lethe.gateway.kafka.create-topics=false",
        "lethe.gateway.rate-limit.limit-for-period=1000000",
        "lethe.gateway.limits.max-body-size=16KB",
        "lethe.gateway.limits.completion-timeout=5s",
        "lethe.gateway.streams.usage-wait=10ms",
        "lethe.gateway.tenants[0].name=fuzz",
        "lethe.gateway.tenants[0].api-keys[0]=key-fuzz",
        "lethe.gateway.tenants[1].name=other",
        "lethe.gateway.tenants[1].api-keys[0]=key-other",
        "logging.structured.format.console=ecs",
        "logging.level.org.apache.kafka=OFF",
        "logging.level.dev.lethe.gateway.jobs.JobService=INFO",
})
@ExtendWith(OutputCaptureExtension.class)
class GatewayFuzzTest {

    private static final int REQUESTS = 10_500;
    private static final int CLIENTS = 4;
    /** Successes, and the only server errors the API documents: 503 Kafka cannot take a job, 504 a completion timed out. */
    private static final Set<Integer> DOCUMENTED = Set.of(200, 202, 503, 504);

    @TestBean
    JobPublisher jobPublisher;
    @Autowired
    JobHub hub;
    @Autowired
    ApplicationContext context;

    private final JsonMapper json = JsonMapper.builder().build();
    private final JsonNodeFactory nodes = JsonNodeFactory.instance;

    static JobPublisher jobPublisher() {
        return new InstantWorker();
    }

    @Test
    void randomAndMutatedRequestsGetOnlySuccessesAndProblemDetails(CapturedOutput output) {
        ((InstantWorker) jobPublisher).hub = hub;
        WebTestClient web = WebTestClient.bindToApplicationContext(context).configureClient()
                .responseTimeout(Duration.ofSeconds(20)).build();
        long seed = Long.getLong("lethe.fuzz.seed", System.nanoTime());
        System.out.println("GatewayFuzzTest seed " + seed + " (-Dlethe.fuzz.seed=" + seed + " repeats this run)");
        Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
        List<String> knownJobs = new CopyOnWriteArrayList<>(List.of("job-000000000000000000000000"));
        // Once one client fails the others stop, so the failure is reported at once and not after their runs.
        AtomicBoolean failed = new AtomicBoolean();
        // A few clients at once, each with its own random stream: requests interleave as they would in service.
        try (ExecutorService clients = Executors.newFixedThreadPool(CLIENTS)) {
            List<Future<?>> runs = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                Random random = new Random(seed + c);
                runs.add(clients.submit(() -> {
                    for (int i = 0; i < REQUESTS / CLIENTS && !failed.get(); i++) {
                        Call call = call(random, knownJobs);
                        try {
                            EntityExchangeResult<byte[]> result = send(web, call);
                            int status = result.getStatus().value();
                            statuses.merge(status, 1, Integer::sum);
                            check(call, result, knownJobs);
                        } catch (AssertionError e) {
                            failed.set(true); // check's message already names the request and its answer
                            throw e;
                        } catch (RuntimeException e) {
                            // e.g. WebTestClient's "Timeout on blocking read": the request that got no answer
                            failed.set(true);
                            throw new AssertionError(call.describe() + " -> no answer: " + e, e);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> run : runs) {
                run.get();
            }
        } catch (ExecutionException e) {
            throw e.getCause() instanceof AssertionError failure ? failure : new AssertionError(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        System.out.println("GatewayFuzzTest: " + REQUESTS + " requests, responses by status " + new TreeMap<>(statuses));
        assertThat(statuses.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(REQUESTS);
        assertThat(statuses.keySet()).as("the fuzz reached both successes and refusals").contains(200, 202, 400);
        assertThat(statuses).as("the instant worker's refusals surface as 503").containsKey(503);

        // Structured logs: the queued jobs' lines are JSON objects with the job id as a field.
        List<String> queued = output.getOut().lines().filter(line -> line.contains("queued for tenant")).toList();
        assertThat(queued).isNotEmpty();
        JsonNode line = json.readTree(queued.getFirst());
        assertThat(line.get("jobId").stringValue()).startsWith("job-");
        assertThat(line.get("message").stringValue()).contains(line.get("jobId").stringValue());
    }

    /** An id with braces and a backslash reaches the server as it is, not as a URI template to expand. */
    @Test
    void oddCharactersInThePathReachTheServerAsSent() {
        WebTestClient web = WebTestClient.bindToApplicationContext(context).build();
        String id = "job-{qq\\jnt} %é\u0000";
        Call call = new Call(HttpMethod.GET, "/v1/jobs/" + encoded(id), null, "Bearer key-fuzz", null);
        EntityExchangeResult<byte[]> result = send(web, call);
        assertThat(result.getStatus().value()).isEqualTo(404);
        assertThat(json.readTree(result.getResponseBodyContent()).get("detail").stringValue())
                .isEqualTo("no job with id " + id);
    }

    // ---- requests ----

    /**
     * One request: where (a path and query already percent-encoded, sent as they are), how, and its body
     * bytes (null for none).
     */
    private record Call(HttpMethod method, String path, String contentType, String authorization, byte[] body) {
        /** The request as a failure names it: enough to send it again by hand. */
        String describe() {
            String headers = "[Content-Type: " + contentType + ", Authorization: " + authorization + "]";
            if (body == null) {
                return method + " " + path + " " + headers + " no body";
            }
            String shown = new String(body, StandardCharsets.UTF_8);
            return method + " " + path + " " + headers + " body of " + body.length + " bytes, sha256 " + sha256(body)
                    + ": " + (shown.length() > 300 ? shown.substring(0, 300) + "..." : shown);
        }

        private static String sha256(byte[] bytes) {
            try {
                return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("every JDK has SHA-256", e);
            }
        }
    }

    private Call call(Random random, List<String> knownJobs) {
        String auth = switch (random.nextInt(20)) {
            case 0 -> null;
            case 1 -> "Bearer " + randomText(random, 12);
            case 2 -> "Bearer key-other";
            case 3 -> "key-fuzz";
            default -> "Bearer key-fuzz";
        };
        String contentType = switch (random.nextInt(12)) {
            case 0 -> null;
            case 1 -> "text/plain";
            case 2 -> "application/x-www-form-urlencoded";
            case 3 -> "application/json; charset=latin1";
            default -> "application/json";
        };
        String job = encoded(random.nextInt(3) == 0 ? "job-" + randomText(random, 8)
                : knownJobs.get(random.nextInt(knownJobs.size())));
        return switch (random.nextInt(16)) {
            case 0 -> new Call(HttpMethod.GET, "/v1/jobs/" + job, null, auth, null);
            case 1 -> new Call(HttpMethod.GET, "/v1/jobs/" + job + "/events" + startingAfter(random), null, auth, null);
            case 2 -> new Call(HttpMethod.POST, "/v1/jobs/" + job + "/cancel", null, auth, null);
            case 3 -> new Call(HttpMethod.GET, "/v1/models", null, auth, null);
            case 4 -> new Call(random.nextBoolean() ? HttpMethod.PUT : HttpMethod.DELETE, "/v1/jobs", contentType, auth,
                    body(random, "jobs"));
            case 5, 6, 7 -> new Call(HttpMethod.POST, "/v1/chat/completions", contentType, auth, body(random, "chat"));
            case 8, 9, 10 -> new Call(HttpMethod.POST, "/v1/completions", contentType, auth, body(random, "completion"));
            default -> new Call(HttpMethod.POST, "/v1/jobs", contentType, auth, body(random, "jobs"));
        };
    }

    private static String startingAfter(Random random) {
        return switch (random.nextInt(6)) {
            case 0 -> "";
            case 1 -> "?starting_after=" + (random.nextInt(20) - 3);
            case 2 -> "?starting_after=" + encoded(randomText(random, 4));
            case 3 -> "?starting_after=99999999999999999999";
            default -> "?starting_after=" + random.nextInt(6);
        };
    }

    /**
     * The UTF-8 bytes of a path segment or query value, every one but the unreserved characters of RFC 3986
     * percent-encoded: the server decodes the random text back, braces, backslashes, NULs and all (a lone
     * surrogate, which UTF-8 cannot carry, arrives as the encoder's {@code ?}).
     */
    private static String encoded(String text) {
        StringBuilder out = new StringBuilder();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~".indexOf(c) >= 0) {
                out.append(c);
            } else {
                out.append('%').append(HexFormat.of().withUpperCase().toHexDigits(b));
            }
        }
        return out.toString();
    }

    private EntityExchangeResult<byte[]> send(WebTestClient web, Call call) {
        // A URI, not a String: WebTestClient would read a string as a URI template and expand (or trip on) its braces.
        WebTestClient.RequestBodySpec spec = web.method(call.method()).uri(URI.create(call.path()));
        if (call.authorization() != null) {
            spec.header(HttpHeaders.AUTHORIZATION, call.authorization());
        }
        if (call.contentType() != null) {
            spec.header(HttpHeaders.CONTENT_TYPE, call.contentType());
        }
        WebTestClient.RequestHeadersSpec<?> ready = call.body() == null ? spec : spec.bodyValue(call.body());
        return ready.exchange().expectBody(byte[].class).returnResult();
    }

    // ---- bodies: valid seeds, mutated structurally or byte by byte, or random ----

    private byte[] body(Random random, String endpoint) {
        return switch (random.nextInt(10)) {
            case 0 -> randomBytes(random);
            case 1 -> json.writeValueAsBytes(randomValue(random, 0));
            case 2, 3 -> mutateBytes(random, json.writeValueAsBytes(seed(random, endpoint)));
            case 4, 5, 6 -> json.writeValueAsBytes(mutateFields(random, seed(random, endpoint)));
            default -> json.writeValueAsBytes(seed(random, endpoint));
        };
    }

    private ObjectNode seed(Random random, String endpoint) {
        ObjectNode body = nodes.objectNode();
        boolean chat = endpoint.equals("chat") || (endpoint.equals("jobs") && random.nextBoolean());
        if (chat) {
            ArrayNode messages = body.putArray("messages");
            if (random.nextBoolean()) {
                messages.addObject().put("role", "system").put("content", "be brief");
            }
            messages.addObject().put("role", "user").put("content", randomText(random, 1 + random.nextInt(40)));
        } else {
            body.put("prompt", randomText(random, 1 + random.nextInt(40)));
        }
        body.put("max_tokens", 1 + random.nextInt(8));
        if (random.nextBoolean()) {
            body.put("temperature", random.nextDouble() * 2);
        }
        if (random.nextBoolean()) {
            body.put("seed", random.nextInt(1000));
        }
        if (!endpoint.equals("jobs") && random.nextInt(3) == 0) {
            body.put("stream", true);
            if (random.nextBoolean()) {
                body.putObject("stream_options").put("include_usage", true);
            }
        }
        if (random.nextInt(4) == 0) {
            body.put("kv_policy", "lethe");
        }
        if (endpoint.equals("jobs") && random.nextInt(4) == 0) {
            body.put("priority", random.nextInt(10));
        }
        return body;
    }

    private static final List<String> FIELDS = List.of("model", "prompt", "messages", "max_tokens",
            "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "n", "best_of", "echo",
            "logprobs", "stream", "stream_options", "kv_policy", "priority", "user", "");

    private JsonNode mutateFields(Random random, ObjectNode body) {
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            String field = random.nextInt(8) == 0 ? randomText(random, 5) : FIELDS.get(random.nextInt(FIELDS.size()));
            switch (random.nextInt(5)) {
                case 0 -> body.remove(field);
                case 1 -> {
                    // Inside the messages: a bad role, content or shape.
                    ArrayNode messages = body.has("messages") && body.get("messages").isArray()
                            ? (ArrayNode) body.get("messages") : body.putArray("messages");
                    JsonNode message = randomValue(random, 1);
                    if (random.nextBoolean()) {
                        message = nodes.objectNode().put("role", random.nextBoolean() ? "user" : randomText(random, 4))
                                .set("content", randomValue(random, 2));
                    }
                    messages.add(message);
                }
                default -> body.set(field, randomValue(random, 0));
            }
        }
        return random.nextInt(20) == 0 ? nodes.arrayNode().add(body) : body;
    }

    private JsonNode randomValue(Random random, int depth) {
        int kind = depth > 3 ? random.nextInt(7) : random.nextInt(10);
        return switch (kind) {
            case 0 -> nodes.nullNode();
            case 1 -> nodes.booleanNode(random.nextBoolean());
            case 2 -> nodes.numberNode(random.nextInt(21) - 5);
            case 3 -> nodes.numberNode(switch (random.nextInt(6)) {
                case 0 -> Long.MAX_VALUE;
                case 1 -> Long.MIN_VALUE;
                case 2 -> 1e308;
                case 3 -> -0.0;
                case 4 -> 9_007_199_254_740_993.0;
                default -> random.nextGaussian() * 1e6;
            });
            case 4 -> nodes.numberNode(new java.math.BigInteger(200, random));
            case 5 -> nodes.stringNode(randomText(random, random.nextInt(30)));
            case 6 -> nodes.stringNode(random.nextInt(10) == 0 ? "x".repeat(20_000) : "lethe");
            case 7 -> {
                ArrayNode array = nodes.arrayNode();
                IntStream.range(0, random.nextInt(4)).forEach(i -> array.add(randomValue(random, depth + 1)));
                yield array;
            }
            default -> {
                ObjectNode object = nodes.objectNode();
                IntStream.range(0, random.nextInt(4)).forEach(i -> object.set(
                        random.nextBoolean() ? FIELDS.get(random.nextInt(FIELDS.size())) : randomText(random, 4),
                        randomValue(random, depth + 1)));
                yield object;
            }
        };
    }

    private static byte[] mutateBytes(Random random, byte[] seed) {
        StringBuilder text = new StringBuilder(new String(seed, StandardCharsets.UTF_8));
        int mutations = 1 + random.nextInt(4);
        for (int m = 0; m < mutations && !text.isEmpty(); m++) {
            int at = random.nextInt(text.length());
            switch (random.nextInt(6)) {
                case 0 -> text.deleteCharAt(at);
                case 1 -> text.insert(at, PALETTE.charAt(random.nextInt(PALETTE.length())));
                case 2 -> text.setCharAt(at, PALETTE.charAt(random.nextInt(PALETTE.length())));
                case 3 -> text.setLength(at); // truncated
                case 4 -> text.insert(at, "[".repeat(random.nextInt(2) == 0 ? 3 : 2000));
                default -> {
                    int end = Math.min(text.length(), at + random.nextInt(20));
                    text.insert(at, text.substring(at, end));
                }
            }
        }
        return text.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static final String PALETTE = "{}[]\":,.-+eE0123456789 \\\n\ttrue\u0000\u00e9\u2028\uD83D\uDE00nulxyz";

    private static byte[] randomBytes(Random random) {
        byte[] bytes = new byte[random.nextInt(200)];
        random.nextBytes(bytes);
        return bytes;
    }

    private static String randomText(Random random, int length) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < length; i++) {
            text.append(random.nextInt(10) == 0 ? PALETTE.charAt(random.nextInt(PALETTE.length()))
                    : (char) ('a' + random.nextInt(26)));
        }
        return text.toString();
    }

    // ---- checks ----

    private void check(Call call, EntityExchangeResult<byte[]> result, List<String> knownJobs) {
        int status = result.getStatus().value();
        String described = call.describe() + " -> " + status + " "
                + new String(result.getResponseBodyContent() == null ? new byte[0] : result.getResponseBodyContent(),
                StandardCharsets.UTF_8);
        assertThat(DOCUMENTED.contains(status) || (status >= 400 && status < 500)).as(described).isTrue();
        if (status >= 400) {
            assertProblem(result, status, described);
        } else {
            assertSuccess(result, call, described, knownJobs);
        }
    }

    private void assertProblem(EntityExchangeResult<byte[]> result, int status, String described) {
        assertThat(result.getResponseHeaders().getContentType()).as(described).isNotNull();
        assertThat(result.getResponseHeaders().getContentType().isCompatibleWith(MediaType.APPLICATION_PROBLEM_JSON))
                .as(described).isTrue();
        JsonNode problem = json.readTree(result.getResponseBodyContent());
        assertThat(problem.get("status").intValue()).as(described).isEqualTo(status);
        assertThat(problem.get("type").stringValue()).as(described).startsWith("urn:lethe:problem:");
        assertThat(problem.get("title").stringValue()).as(described).isNotBlank();
        assertThat(problem.get("detail").stringValue()).as(described).isNotBlank();
    }

    private void assertSuccess(EntityExchangeResult<byte[]> result, Call call, String described, List<String> knownJobs) {
        MediaType type = result.getResponseHeaders().getContentType();
        String body = new String(result.getResponseBodyContent(), StandardCharsets.UTF_8);
        if (type != null && type.isCompatibleWith(MediaType.TEXT_EVENT_STREAM)) {
            boolean openAi = call.path().contains("completions");
            assertThat(body).as(described).contains(openAi ? "data:[DONE]" : "event:done");
            return;
        }
        JsonNode answer = json.readTree(body);
        assertThat(answer.isObject()).as(described).isTrue();
        if (call.path().equals("/v1/jobs") && result.getStatus().value() == 202) {
            knownJobs.add(answer.get("id").stringValue());
        }
    }

    // ---- the stand-in for Kafka and the workers ----

    /**
     * Ends each job at once, as a worker would through Kafka: its tokens (at most 4, whatever was asked)
     * and its COMPLETED state go straight to the {@link JobHub}. One job in 25 cannot be queued, as when
     * Kafka is away.
     */
    static final class InstantWorker implements JobPublisher {
        volatile JobHub hub;
        final List<Control> controls = new CopyOnWriteArrayList<>();
        private final Map<String, Boolean> refused = new ConcurrentHashMap<>();

        @Override
        public Mono<Void> publish(JobRequest request) {
            return Mono.fromRunnable(() -> {
                if (Math.floorMod(request.jobId().hashCode(), 25) == 0) {
                    refused.put(request.jobId(), true);
                    throw new IllegalStateException("Topic lethe.requests not present in metadata after 10000 ms.");
                }
                int tokens = Math.min(4, request.sampling().maxTokens());
                Instant now = Instant.now();
                List<Integer> ids = IntStream.range(0, tokens).boxed().toList();
                String text = String.join("", IntStream.range(0, tokens).mapToObj(i -> "t" + i + " ").toList());
                hub.onTokens(new TokenChunk(request.jobId(), 0, tokens - 1, ids, text, "instant", 1,
                        FinishReason.LENGTH, now));
                hub.onStatus(new JobStatus(request.jobId(), request.tenant(), JobState.COMPLETED, "instant", tokens - 1,
                        3, tokens, FinishReason.LENGTH, null,
                        List.of(new JobEvent(JobEvent.Type.ACCEPTED, now, "instant", null),
                                new JobEvent(JobEvent.Type.COMPLETED, now, "instant", null)), now));
            });
        }

        @Override
        public Mono<Void> publish(Control control) {
            return Mono.fromRunnable(() -> controls.add(control));
        }
    }
}
