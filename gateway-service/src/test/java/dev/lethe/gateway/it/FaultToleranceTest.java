package dev.lethe.gateway.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lethe.gateway.GatewayApplication;
import dev.lethe.gateway.bench.OwnEventLoops;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Faults around the gateway, on a real broker that can be restarted ({@link RestartableBroker}) with a
 * worker stand-in that streams tokens over seconds ({@link PacedWorker}), and gateways started as
 * separate Spring applications in this JVM. (A checkpoint-store outage concerns the worker and is
 * tested with the worker's checkpoints.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FaultToleranceTest {

    private static final String KEY = "Bearer lethe-dev-key";
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final ParameterizedTypeReference<ServerSentEvent<String>> SSE = new ParameterizedTypeReference<>() {
    };

    private final JsonMapper json = JsonMapper.builder().build();
    private RestartableBroker broker;
    private PacedWorker worker;

    @BeforeAll
    void start() {
        broker = RestartableBroker.startNew(3);
        worker = new PacedWorker(broker.bootstrapServers(), Duration.ofMillis(100), 1);
    }

    @AfterAll
    void stop() {
        if (worker != null) {
            worker.close();
        }
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void aBrokerRestartDuringTwentyStreamingJobsLosesNoTokenAndRepeatsNone() {
        int jobs = 20;
        int tokens = 80; // 8 s of streaming each
        try (ConfigurableApplicationContext gateway = gateway("restart")) {
            WebClient web = client(gateway);
            awaitTrue("the gateway is ready", () -> readiness(web).equals("UP"));
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                ids.add(submit(web, tokens));
            }
            List<Follower> followers = ids.stream().map(id -> new Follower(web, id, -1)).toList();
            awaitTrue("every stream has begun", () -> followers.stream().allMatch(f -> f.tokenEvents() > 0));

            broker.stop();
            awaitTrue("readiness says Kafka is down", () -> readiness(web).equals("DOWN"));
            sleep(2_000);
            assertThat(followers).as("no stream ends while the broker is away").noneMatch(f -> f.ended.isDone());
            broker.start();

            for (Follower follower : followers) {
                List<ServerSentEvent<String>> events = follower.ended.orTimeout(WAIT.toSeconds(), TimeUnit.SECONDS).join();
                assertThat(events.getLast().event()).as(follower.id).isEqualTo("done");
                assertExact(follower.id, events, -1, tokens);
            }
            awaitTrue("readiness is back up", () -> readiness(web).equals("UP"));
        }
        assertThat(worker.sendFailures).isEmpty();
    }

    @Test
    void clientsOfAStoppedGatewayResumeAtAnotherWithStartingAfter() {
        int jobs = 5;
        int tokens = 60;
        try (ConfigurableApplicationContext first = gateway("first"); ConfigurableApplicationContext second = gateway("second")) {
            WebClient one = client(first);
            WebClient two = client(second);
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                ids.add(submit(one, tokens));
            }
            List<Follower> followers = ids.stream().map(id -> new Follower(one, id, -1)).toList();
            awaitTrue("every stream is under way", () -> followers.stream().allMatch(f -> f.tokenEvents() >= 5));

            first.close(); // a rolling update: the first gateway ends its streams and goes away
            for (Follower follower : followers) {
                List<ServerSentEvent<String>> before = follower.ended.orTimeout(WAIT.toSeconds(), TimeUnit.SECONDS).join();
                assertThat(before).as("the stream ended early, without done").noneMatch(e -> "done".equals(e.event()));
                long lastSeen = lastTokenId(before);
                assertThat(lastSeen).isBetween(4L, tokens - 2L);

                // The client reconnects to the other gateway, which never saw this job submitted.
                Follower resumed = new Follower(two, follower.id, lastSeen);
                List<ServerSentEvent<String>> after = resumed.ended.orTimeout(WAIT.toSeconds(), TimeUnit.SECONDS).join();
                assertThat(resumed.error).as("resuming " + follower.id).isNull();
                assertThat(after.getLast().event()).isEqualTo("done");
                assertExact(follower.id, before, -1, lastSeen + 1);
                assertExact(follower.id, after, lastSeen, tokens);
            }
        }
    }

    // ---- helpers ----

    /** Follows one job's SSE stream, from after {@code startingAfter}, collecting its events. */
    private static final class Follower {
        final String id;
        final List<ServerSentEvent<String>> events = new CopyOnWriteArrayList<>();
        final CompletableFuture<List<ServerSentEvent<String>>> ended = new CompletableFuture<>();
        volatile Throwable error;

        Follower(WebClient web, String id, long startingAfter) {
            this.id = id;
            web.get().uri(b -> b.path("/v1/jobs/" + id + "/events")
                            .queryParamIfPresent("starting_after", startingAfter >= 0
                                    ? java.util.Optional.of(startingAfter) : java.util.Optional.empty())
                            .build())
                    .header(HttpHeaders.AUTHORIZATION, KEY).accept(MediaType.TEXT_EVENT_STREAM)
                    .retrieve().bodyToFlux(SSE)
                    .subscribe(events::add, error -> {
                                this.error = error;
                                ended.complete(List.copyOf(events));
                            },
                            () -> ended.complete(List.copyOf(events)));
        }

        long tokenEvents() {
            return events.stream().filter(e -> "token".equals(e.event())).count();
        }
    }

    /** The token events of {@code events} cover seqs {@code after + 1 .. until - 1} exactly once, in order. */
    private void assertExact(String id, List<ServerSentEvent<String>> events, long after, long until) {
        long next = after + 1;
        StringBuilder text = new StringBuilder();
        for (ServerSentEvent<String> event : events) {
            if ("token".equals(event.event())) {
                JsonNode tokens = json.readTree(event.data());
                assertThat(tokens.get("from_seq").longValue()).as(id + " from_seq").isEqualTo(next);
                next = tokens.get("to_seq").longValue() + 1;
                text.append(tokens.get("text").stringValue());
            }
        }
        assertThat(next).as(id + ": tokens up to").isEqualTo(until);
        StringBuilder expected = new StringBuilder();
        for (long i = after + 1; i < until; i++) {
            expected.append('w').append(i).append(' ');
        }
        assertThat(text.toString()).as(id).isEqualTo(expected.toString());
    }

    private static long lastTokenId(List<ServerSentEvent<String>> events) {
        return events.stream().filter(e -> "token".equals(e.event())).map(e -> Long.parseLong(e.id()))
                .reduce((a, b) -> b).orElse(-1L);
    }

    private ConfigurableApplicationContext gateway(String instance) {
        // Own event loops: closing the first gateway must not stop the second's (see OwnEventLoops).
        return new SpringApplicationBuilder(GatewayApplication.class).initializers(new OwnEventLoops()).run(
                "--server.port=0",
                "--spring.kafka.bootstrap-servers=" + broker.bootstrapServers(),
                "--lethe.gateway.instance-id=" + instance,
                "--lethe.gateway.kafka.partitions=3",
                "--lethe.gateway.kafka.health-timeout=1s",
                "--lethe.gateway.kafka.health-cache-for=200ms",
                "--lethe.gateway.streams.heartbeat=1s",
                "--lethe.gateway.rate-limit.limit-for-period=1000",
                "--logging.level.org.apache.kafka=ERROR",
                "--logging.level.kafka=ERROR",
                "--logging.level.state.change.logger=ERROR");
    }

    private static WebClient client(ConfigurableApplicationContext gateway) {
        return WebClient.create("http://localhost:" + gateway.getEnvironment().getProperty("local.server.port"));
    }

    private String submit(WebClient web, int tokens) {
        String body = web.post().uri("/v1/jobs").header(HttpHeaders.AUTHORIZATION, KEY)
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"prompt\": \"keep going\", \"max_tokens\": " + tokens + "}")
                .retrieve().bodyToMono(String.class).block(WAIT);
        return json.readTree(body).get("id").stringValue();
    }

    private String readiness(WebClient web) {
        try {
            String body = web.get().uri("/actuator/health/readiness").retrieve().bodyToMono(String.class)
                    .block(Duration.ofSeconds(5));
            return json.readTree(body).get("status").stringValue();
        } catch (WebClientResponseException e) {
            return json.readTree(e.getResponseBodyAsString()).get("status").stringValue();
        }
    }

    private static void awaitTrue(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            sleep(50);
        }
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
