package dev.lethe.gateway.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.gateway.api.ApiProblem;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.mock.http.server.reactive.MockServerHttpRequest;
import org.springframework.mock.web.server.MockServerWebExchange;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;
import reactor.test.publisher.TestPublisher;

class StreamLimitsTest {

    private final StreamLimits limits = new StreamLimits(GatewayProperties.Streams.DEFAULT, List.of(
            new GatewayProperties.Tenant("pair", List.of("k1"), null, null, 2),
            GatewayProperties.Tenant.withKeys("other", "k2")));

    private static ServerWebExchange exchange() {
        return MockServerWebExchange.from(MockServerHttpRequest.get("/v1/jobs/job-1/events"));
    }

    @Test
    void aTenantAtItsLimitIsRefusedAndKeepsWhatItHolds() {
        limits.acquire(exchange(), "pair");
        limits.acquire(exchange(), "pair");
        assertThatThrownBy(() -> limits.acquire(exchange(), "pair"))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> {
                    assertThat(problem.status()).isEqualTo(HttpStatus.TOO_MANY_REQUESTS);
                    assertThat(problem.detail()).contains("tenant pair", "2 streams");
                });
        assertThat(limits.open("pair")).as("the refused attempt holds nothing").isEqualTo(2);
        limits.acquire(exchange(), "other");
        assertThat(limits.open("other")).isEqualTo(1);
        assertThat(limits.limitOf("other")).isEqualTo(GatewayProperties.Streams.DEFAULT.maxPerTenant());
    }

    @Test
    void anExchangeHoldsOnePermitAndItCountsOnlyItsFirstRelease() {
        ServerWebExchange exchange = exchange();
        StreamPermit permit = limits.acquire(exchange, "pair");
        assertThat(limits.acquire(exchange, "pair")).as("a second acquire for the same exchange").isSameAs(permit);
        StreamPermit other = limits.acquire(exchange(), "pair");
        assertThat(limits.open("pair")).isEqualTo(2);

        permit.release();
        assertThat(limits.open("pair")).isEqualTo(1);
        // The stream ended, then the controller and the exchange's end give it back again: no slot is freed twice.
        permit.release();
        limits.release(exchange);
        assertThat(limits.open("pair")).isEqualTo(1);
        other.release();
        assertThat(limits.open("pair")).isZero();
    }

    @Test
    void theExchangesEndReleasesAPermitItsStreamNeverGaveBack() {
        ServerWebExchange exchange = exchange();
        limits.acquire(exchange, "pair");
        limits.release(exchange);
        limits.release(exchange);
        assertThat(limits.open("pair")).isZero();
        limits.release(exchange());
        assertThat(limits.open("pair")).as("an exchange without a permit gives nothing back").isZero();
    }

    @Test
    void aStreamGivesItsPermitBackBeforeItsEndReachesTheServer() {
        // Completed, failed, and cancelled by the server (its client left): each frees the slot before the
        // server learns of the end, which is when it finishes the response.
        List<Integer> openWhenEnded = new ArrayList<>();
        StreamPermit completed = limits.acquire(exchange(), "pair");
        StepVerifier.create(completed.heldBy(Flux.just("a", "b"))
                        .doOnComplete(() -> openWhenEnded.add(limits.open("pair"))))
                .expectNext("a", "b").verifyComplete();
        StreamPermit failed = limits.acquire(exchange(), "pair");
        StepVerifier.create(failed.heldBy(Flux.<String>error(new IllegalStateException("lost")))
                        .doOnError(error -> openWhenEnded.add(limits.open("pair"))))
                .verifyError(IllegalStateException.class);
        assertThat(openWhenEnded).containsExactly(0, 0);

        TestPublisher<String> endless = TestPublisher.create();
        StreamPermit cancelled = limits.acquire(exchange(), "pair");
        StepVerifier.create(cancelled.heldBy(endless.flux()))
                .then(() -> endless.next("a"))
                .expectNext("a")
                .then(() -> assertThat(limits.open("pair")).as("held while the stream runs").isEqualTo(1))
                .thenCancel().verify();
        endless.assertCancelled();
        assertThat(limits.open("pair")).isZero();
    }
}
