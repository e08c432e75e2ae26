package dev.lethe.gateway.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** On virtual time: what counts is when events and comments come, not how busy the machine is. */
class HeartbeatsTest {

    @Test
    void commentsFillIdleTimeAndStopWithTheStream() {
        // One event, 500 ms of silence, one more event, then the end.
        List<ServerSentEvent<String>> out = collect(() -> Heartbeats.whileIdle(Flux.concat(
                Flux.just(ServerSentEvent.builder("a").build()),
                Flux.just(ServerSentEvent.builder("b").build()).delaySubscription(Duration.ofMillis(500))),
                Duration.ofMillis(100)));

        assertThat(out.getFirst().data()).isEqualTo("a");
        assertThat(out.getLast().data()).isEqualTo("b");
        // Silence from 0 to 500 ms, a comment at about every 100 ms of it.
        List<ServerSentEvent<String>> beats = out.subList(1, out.size() - 1);
        assertThat(beats).hasSizeBetween(4, 5).allSatisfy(beat -> {
            assertThat(beat.comment()).isEqualTo(Heartbeats.COMMENT);
            assertThat(beat.data()).isNull();
        });
    }

    @Test
    void aBusyStreamGetsNoHeartbeats() {
        List<ServerSentEvent<String>> out = collect(() -> Heartbeats.whileIdle(Flux.interval(Duration.ofMillis(20)).take(20)
                .map(i -> ServerSentEvent.builder("e" + i).build()), Duration.ofMillis(100)));
        assertThat(out).hasSize(20).allSatisfy(e -> assertThat(e.comment()).isNull());
    }

    @Test
    void aStreamThatEndsStopsItsHeartbeats() {
        StepVerifier.withVirtualTime(() -> Heartbeats.whileIdle(
                        Flux.just(ServerSentEvent.builder("only").build()), Duration.ofMillis(100)))
                .expectNextMatches(e -> "only".equals(e.data()))
                .expectComplete()
                .verify(Duration.ofSeconds(5));
    }

    /** Everything the stream sends, on virtual time. */
    private static List<ServerSentEvent<String>> collect(Supplier<Flux<ServerSentEvent<String>>> stream) {
        List<ServerSentEvent<String>> out = new ArrayList<>();
        StepVerifier.withVirtualTime(() -> stream.get().collectList())
                .thenAwait(Duration.ofSeconds(2)) // every event and comment comes at its time
                .consumeNextWith(out::addAll)
                .expectComplete()
                .verify(Duration.ofSeconds(5));
        return out;
    }
}
