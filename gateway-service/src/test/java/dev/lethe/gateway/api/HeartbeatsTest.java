package dev.lethe.gateway.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.http.codec.ServerSentEvent;
import reactor.core.publisher.Flux;

class HeartbeatsTest {

    @Test
    void commentsFillIdleTimeAndStopWithTheStream() {
        // One event, 500 ms of silence, one more event, then the end.
        Flux<ServerSentEvent<String>> events = Flux.concat(
                Flux.just(ServerSentEvent.builder("a").build()),
                Flux.just(ServerSentEvent.builder("b").build()).delaySubscription(Duration.ofMillis(500)));
        List<ServerSentEvent<String>> out = Heartbeats.whileIdle(events, Duration.ofMillis(100))
                .collectList().block(Duration.ofSeconds(5));

        assertThat(out.getFirst().data()).isEqualTo("a");
        assertThat(out.getLast().data()).isEqualTo("b");
        List<ServerSentEvent<String>> beats = out.subList(1, out.size() - 1);
        assertThat(beats).hasSizeBetween(3, 6).allSatisfy(beat -> {
            assertThat(beat.comment()).isEqualTo(Heartbeats.COMMENT);
            assertThat(beat.data()).isNull();
        });
    }

    @Test
    void aBusyStreamGetsNoHeartbeats() {
        Flux<ServerSentEvent<String>> events = Flux.interval(Duration.ofMillis(20)).take(20)
                .map(i -> ServerSentEvent.builder("e" + i).build());
        List<ServerSentEvent<String>> out = Heartbeats.whileIdle(events, Duration.ofMillis(100))
                .collectList().block(Duration.ofSeconds(5));
        assertThat(out).hasSize(20).allSatisfy(e -> assertThat(e.comment()).isNull());
    }
}
