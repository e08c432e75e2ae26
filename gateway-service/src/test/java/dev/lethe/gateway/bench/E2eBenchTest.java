package dev.lethe.gateway.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lethe.gateway.it.RestartableBroker;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * {@code ./lethe bench-e2e} scaled down for CI: 100 SSE clients on 10 jobs for 5 s. Every stream must be
 * exact and every measured token timed; the full run (1,000 clients for a minute) is in bench/RESULTS.md.
 */
class E2eBenchTest {

    @Test
    void aHundredClientsGetEveryTokenOnceAndInOrder() throws Exception {
        try (RestartableBroker broker = RestartableBroker.startNew(3)) {
            E2eBench.Settings settings = E2eBench.parse(new String[] {"--bootstrap", broker.bootstrapServers(),
                    "--clients", "100", "--jobs", "10", "--warmup", "2s", "--duration", "5s", "--interval", "100ms"});
            E2eBench.Result result = E2eBench.run(settings, new PrintStream(OutputStream.nullOutputStream()));
            String report = E2eBench.report(result);
            System.out.println(report);

            assertThat(result.failedStreams()).isZero();
            assertThat(result.exactStreams()).isEqualTo(100);
            assertThat(result.sendFailures()).isZero();
            assertThat(result.tokenEvents()).isEqualTo(100L * settings.tokensPerJob());
            // The measured tokens (after the warm-up) were each timed once per client.
            long measured = result.endToEnd().getTotalCount();
            assertThat(measured).isBetween(100L * 40, result.tokenEvents());
            assertThat(result.added().getTotalCount()).isEqualTo(measured);
            // A sanity bound, not a benchmark (CI machines vary): a stream stalled until a heartbeat (10 s) or a
            // read-back from Kafka would break it.
            assertThat(Duration.ofNanos(result.added().getValueAtPercentile(99) * 1000)).isLessThan(Duration.ofSeconds(5));
            assertThat(result.memory()).isNotEmpty();
            assertThat(report).contains("**added by the gateway**", "Streams exact", "| 100 of 100**".substring(2));
        }
    }

    @Test
    void badOptionsAreNamed() {
        for (String[] args : new String[][] {{"--clients", "10"}, {"--bootstrap", "x", "--clients", "0"},
                {"--bootstrap", "x", "--interval", "fast"}, {"--bootstrap", "x", "--jobs", "20", "--clients", "10"},
                {"--bootstrap", "x", "--what", "1"}}) {
            try {
                E2eBench.parse(args);
                throw new AssertionError("accepted " + String.join(" ", args));
            } catch (IllegalArgumentException e) {
                assertThat(e.getMessage()).containsAnyOf("--bootstrap", "--clients", "--interval", "--jobs", "'--what'");
            }
        }
    }
}
