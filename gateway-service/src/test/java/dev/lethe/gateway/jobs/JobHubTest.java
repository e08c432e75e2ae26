package dev.lethe.gateway.jobs;

import static dev.lethe.gateway.jobs.Chunks.chunk;
import static dev.lethe.gateway.jobs.Chunks.status;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.TokenChunk;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.test.StepVerifier;
import reactor.test.scheduler.VirtualTimeScheduler;

class JobHubTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    /**
     * Stands in for lethe.tokens: every chunk ever written, read back like the Kafka archive does. A held archive
     * answers no read until {@link #release}, as a Kafka read-back queued behind others under load.
     */
    static final class TopicArchive implements TokenArchive {
        final List<TokenChunk> topic = new CopyOnWriteArrayList<>();
        final AtomicInteger reads = new AtomicInteger();
        final AtomicInteger cancelledReads = new AtomicInteger();
        private volatile Sinks.Empty<Void> gate;

        void hold() {
            gate = Sinks.empty();
        }

        void release() {
            gate.tryEmitEmpty();
        }

        @Override
        public Mono<List<TokenChunk>> read(String jobId, long afterSeq, long untilSeq, Instant since) {
            reads.incrementAndGet();
            Mono<List<TokenChunk>> read = Mono.fromSupplier(() -> topic.stream()
                    .filter(c -> c.jobId().equals(jobId) && (c.toSeq() > afterSeq || c.finishReason() != null))
                    .toList());
            Sinks.Empty<Void> held = gate;
            return (held == null ? read : held.asMono().then(read)).doOnCancel(cancelledReads::incrementAndGet);
        }
    }

    private final TopicArchive archive = new TopicArchive();

    private JobHub hub(int maxChunksPerJob, Duration usageWait) {
        return new JobHub(archive, streams(maxChunksPerJob, usageWait));
    }

    private static GatewayProperties.Streams streams(int maxChunksPerJob, Duration usageWait) {
        return new GatewayProperties.Streams(Duration.ofSeconds(10), 100, maxChunksPerJob, usageWait,
                Duration.ofSeconds(5), 100);
    }

    /** Writes a chunk to the "topic" and hands it to the hub, as the gateway's consumer would. */
    private void produce(JobHub hub, TokenChunk chunk) {
        archive.topic.add(chunk);
        hub.onTokens(chunk);
    }

    private void runWholeJob(JobHub hub, String jobId, int tokens, int chunkSize) {
        hub.onStatus(status(jobId, "acme", JobState.RUNNING, -1, 7, null, 1));
        Chunks.split(jobId, tokens, chunkSize).forEach(c -> produce(hub, c));
        produce(hub, Chunks.end(jobId, tokens - 1, FinishReason.LENGTH));
        hub.onStatus(status(jobId, "acme", JobState.COMPLETED, tokens - 1, 7, FinishReason.LENGTH, 2));
    }

    @Test
    void fansOutEveryTokenInOrderToEverySubscriber() {
        JobHub hub = hub(100, Duration.ofSeconds(10));
        JobTrack track = hub.submitted("j1", "acme", "m", Chunks.T0);
        List<Mono<List<StreamEvent>>> subscribers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            subscribers.add(hub.events(track, -1).collectList().cache());
            subscribers.getLast().subscribe();
        }
        assertThat(track.subscriberCount()).isEqualTo(3);
        runWholeJob(hub, "j1", 20, 3);

        for (Mono<List<StreamEvent>> subscriber : subscribers) {
            List<StreamEvent> events = subscriber.block(WAIT);
            assertThat(tokenIds(events)).isEqualTo(ids(0, 19));
            assertThat(text(events)).isEqualTo(Chunks.text(0, 19));
            assertThat(events.getLast()).isEqualTo(new StreamEvent.Finished(FinishReason.LENGTH, 19,
                    new Usage(7, 20), null));
            assertThat(events).filteredOn(StreamEvent.StatusChanged.class::isInstance).hasSize(2);
        }
        assertThat(track.subscriberCount()).as("finished subscribers leave").isZero();
        assertThat(archive.reads).as("everything came from memory").hasValue(0);
    }

    @Test
    void resumingAfterAnySeqGivesTheRestWithoutGapOrRepeat() {
        JobHub hub = hub(100, Duration.ofSeconds(10));
        JobTrack track = hub.submitted("j1", "acme", "m", Chunks.T0);
        runWholeJob(hub, "j1", 20, 3);
        for (long after = -1; after < 20; after++) {
            List<StreamEvent> events = hub.events(track, after).collectList().block(WAIT);
            assertThat(tokenIds(events)).as("after %d", after).isEqualTo(ids(after + 1, 19));
            List<StreamEvent.Tokens> tokens = tokens(events);
            if (after == 19) {
                assertThat(tokens).isEmpty();
            } else if ((after + 1) % 3 == 0) {
                assertThat(text(events)).as("after %d, a chunk boundary", after).isEqualTo(Chunks.text(after + 1, 19));
            } else {
                // Inside a chunk: the part of it has ids but no text; every later chunk is whole.
                assertThat(tokens.getFirst().text()).isNull();
                assertThat(tokens.stream().skip(1).allMatch(t -> t.text() != null)).isTrue();
            }
            assertThat(events.getLast()).isInstanceOf(StreamEvent.Finished.class);
        }
    }

    @Test
    void readsWhatTheLogDroppedBackFromTheArchive() {
        JobHub hub = hub(4, Duration.ofSeconds(10));
        JobTrack track = hub.submitted("j1", "acme", "m", Chunks.T0);
        runWholeJob(hub, "j1", 100, 4); // 25 chunks, at most 4 kept
        assertThat(track.loggedChunks()).isLessThanOrEqualTo(4);

        List<StreamEvent> all = hub.events(track, -1).collectList().block(WAIT);
        assertThat(tokenIds(all)).isEqualTo(ids(0, 99));
        assertThat(text(all)).isEqualTo(Chunks.text(0, 99));
        assertThat(archive.reads.get()).isPositive();

        List<StreamEvent> fromMiddle = hub.events(track, 47).collectList().block(WAIT);
        assertThat(tokenIds(fromMiddle)).isEqualTo(ids(48, 99));
        assertThat(text(fromMiddle)).isEqualTo(Chunks.text(48, 99));
    }

    @Test
    void aFinalStatusThatOvertakesTheFirstChunksDoesNotHoldThemBack() {
        // Reads back would hang: only the live consumer can end this stream, and the wait for it is long.
        archive.hold();
        JobHub hub = hub(100, Duration.ofMinutes(1));
        JobTrack track = hub.submitted("j5", "acme", "m", Chunks.T0);
        Mono<List<StreamEvent>> events = hub.events(track, -1).collectList().cache();
        events.subscribe();
        // The status consumer hands over the final state before the token consumer has delivered anything.
        hub.onStatus(status("j5", "acme", JobState.COMPLETED, 5, 7, FinishReason.LENGTH, 2));
        Chunks.split("j5", 6, 3).forEach(c -> produce(hub, c));
        produce(hub, Chunks.end("j5", 5, FinishReason.LENGTH));

        List<StreamEvent> got = events.block(WAIT);
        assertThat(tokenIds(got)).isEqualTo(ids(0, 5));
        assertThat(text(got)).isEqualTo(Chunks.text(0, 5));
        assertThat(got.getLast()).isEqualTo(new StreamEvent.Finished(FinishReason.LENGTH, 5, new Usage(7, 6), null));
        assertThat(archive.reads).as("the live consumer delivered them: nothing read back").hasValue(0);
    }

    @Test
    void aReadBackInFlightDoesNotHoldBackTokensThatComeLive() {
        archive.hold();
        JobHub hub = hub(100, Duration.ofMinutes(1));
        // Known here only from its status (another gateway took it), whose tokens 0..2 this gateway has not seen.
        Chunks.split("j7", 3, 3).forEach(archive.topic::add);
        hub.onStatus(status("j7", "acme", JobState.RUNNING, 2, 7, null, 3));
        JobTrack track = hub.find("j7", "acme").orElseThrow();
        Mono<List<StreamEvent>> events = hub.events(track, -1).collectList().cache();
        events.subscribe();
        assertThat(archive.reads).as("a gap in a job not submitted here is read back at once").hasValue(1);

        // Consumer lag, not a gap: the live consumer delivers tokens 0..2 while the read is still out, then the rest.
        Chunks.split("j7", 9, 3).forEach(c -> produce(hub, c));
        produce(hub, Chunks.end("j7", 8, FinishReason.STOP));
        hub.onStatus(status("j7", "acme", JobState.COMPLETED, 8, 7, FinishReason.STOP, 9));

        List<StreamEvent> got = events.block(WAIT);
        assertThat(tokenIds(got)).as("every token once, in order").isEqualTo(ids(0, 8));
        assertThat(got.getLast()).isEqualTo(new StreamEvent.Finished(FinishReason.STOP, 8, new Usage(7, 9), null));
        assertThat(archive.cancelledReads).as("the read nobody needs any more is dropped").hasValue(1);
    }

    @Test
    void tokensTheLiveConsumerNeverDeliversAreReadBackOnceTheWaitForThemIsOver() {
        VirtualTimeScheduler clock = VirtualTimeScheduler.create();
        JobHub hub = new JobHub(archive, streams(100, Duration.ofSeconds(2)), clock);
        JobTrack track = hub.submitted("j6", "acme", "m", Chunks.T0);
        // Written to the topic before this gateway's token consumer started reading: it never delivers them.
        Chunks.split("j6", 6, 3).forEach(archive.topic::add);
        archive.topic.add(Chunks.end("j6", 5, FinishReason.LENGTH));
        hub.onStatus(status("j6", "acme", JobState.COMPLETED, 5, 7, FinishReason.LENGTH, 2));

        List<StreamEvent> got = new CopyOnWriteArrayList<>();
        hub.events(track, -1).subscribe(got::add);
        clock.advanceTimeBy(Duration.ofMillis(1999));
        assertThat(archive.reads).as("the live consumer gets its moment").hasValue(0);
        assertThat(got).hasSize(1).first().isInstanceOf(StreamEvent.StatusChanged.class);

        clock.advanceTimeBy(Duration.ofMillis(1));
        assertThat(archive.reads).hasValue(1);
        assertThat(tokenIds(got)).isEqualTo(ids(0, 5));
        assertThat(got.getLast()).isEqualTo(new StreamEvent.Finished(FinishReason.LENGTH, 5, new Usage(7, 6), null));
    }

    @Test
    void aSubscriberThatLeavesStopsItsWaitAndItsReadBack() {
        VirtualTimeScheduler clock = VirtualTimeScheduler.create();
        JobHub hub = new JobHub(archive, streams(100, Duration.ofSeconds(2)), clock);
        JobTrack track = hub.submitted("j8", "acme", "m", Chunks.T0);
        hub.onStatus(status("j8", "acme", JobState.RUNNING, 5, 7, null, 2));
        hub.events(track, -1).subscribe().dispose();
        clock.advanceTimeBy(Duration.ofMinutes(1));
        assertThat(archive.reads).as("no read for a subscriber that left during the wait").hasValue(0);

        archive.hold();
        hub.onStatus(status("j9", "acme", JobState.RUNNING, 5, 7, null, 2)); // not submitted here: read at once
        hub.find("j9", "acme").map(other -> hub.events(other, -1).subscribe()).orElseThrow().dispose();
        assertThat(archive.reads).hasValue(1);
        assertThat(archive.cancelledReads).as("its read-back is cancelled").hasValue(1);
    }

    @Test
    void aGatewayThatJoinsLateReadsBackThenFollowsLive() {
        JobHub hub = hub(100, Duration.ofSeconds(10));
        // Another gateway took the job; this one starts after tokens 0..9 were written.
        Chunks.split("j2", 10, 5).forEach(archive.topic::add);
        hub.onStatus(status("j2", "acme", JobState.RUNNING, 9, 7, null, 5));
        JobTrack track = hub.find("j2", "acme").orElseThrow();

        StepVerifier.create(hub.events(track, 3))
                .assertNext(e -> assertThat(e).isInstanceOf(StreamEvent.StatusChanged.class))
                .assertNext(e -> assertThat(((StreamEvent.Tokens) e).tokenIds()).isEqualTo(ids(4, 4)))
                .assertNext(e -> assertThat(((StreamEvent.Tokens) e).tokenIds()).isEqualTo(ids(5, 9)))
                .then(() -> produce(hub, chunk("j2", 10, 12, FinishReason.STOP)))
                .assertNext(e -> assertThat(((StreamEvent.Tokens) e).tokenIds()).isEqualTo(ids(10, 12)))
                .then(() -> hub.onStatus(status("j2", "acme", JobState.COMPLETED, 12, 7, FinishReason.STOP, 9)))
                .assertNext(e -> assertThat(e).isInstanceOf(StreamEvent.StatusChanged.class))
                .assertNext(e -> assertThat(e).isEqualTo(new StreamEvent.Finished(FinishReason.STOP, 12,
                        new Usage(7, 13), null)))
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void tokensFoundNowhereEndTheStreamAsLost() {
        JobHub hub = hub(100, Duration.ofSeconds(10));
        hub.onStatus(status("j3", "acme", JobState.COMPLETED, 9, 7, FinishReason.STOP, 5));
        JobTrack track = hub.find("j3", "acme").orElseThrow();
        List<StreamEvent> events = hub.events(track, -1).collectList().block(WAIT);
        assertThat(events.getLast()).isInstanceOf(StreamEvent.Lost.class);
        assertThat(((StreamEvent.Lost) events.getLast()).detail()).contains("after seq -1");
        assertThat(tokenIds(events)).isEmpty();
    }

    @Test
    void sendsNoMoreThanTheSubscriberAskedFor() {
        JobHub hub = hub(100, Duration.ofSeconds(10));
        JobTrack track = hub.submitted("j1", "acme", "m", Chunks.T0);
        runWholeJob(hub, "j1", 30, 3);
        StepVerifier.create(hub.events(track, -1), 2)
                .expectNextCount(2) // the status, then the first chunk
                .expectNoEvent(Duration.ofMillis(100))
                .thenRequest(1)
                .assertNext(e -> assertThat(((StreamEvent.Tokens) e).fromSeq()).isEqualTo(3))
                .thenCancel()
                .verify(WAIT);
        assertThat(track.subscriberCount()).as("a cancelled subscriber leaves").isZero();
    }

    @Test
    void waitsBrieflyForTheFinalStatusToReportUsage() {
        JobHub hub = hub(100, Duration.ofMillis(300));
        JobTrack track = hub.submitted("j1", "acme", "m", Chunks.T0);
        hub.onStatus(status("j1", "acme", JobState.RUNNING, -1, 7, null, 1));
        produce(hub, chunk("j1", 0, 4, FinishReason.STOP));

        // The final status never comes: usage is reported without it after the wait.
        long start = System.nanoTime();
        List<StreamEvent> events = hub.events(track, -1).collectList().block(WAIT);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(250));
        assertThat(events.getLast()).isEqualTo(new StreamEvent.Finished(FinishReason.STOP, 4, new Usage(7, 5), null));

        // It comes in time: its counts are reported.
        JobTrack other = hub.submitted("j4", "acme", "m", Chunks.T0);
        Mono<List<StreamEvent>> later = hub.events(other, -1).collectList().cache();
        later.subscribe();
        produce(hub, chunk("j4", 0, 1, FinishReason.LENGTH));
        hub.onStatus(new dev.lethe.schemas.JobStatus("j4", "acme", JobState.COMPLETED, "w-0", 1, 11, 2,
                FinishReason.LENGTH, null, List.of(), Chunks.T0.plusSeconds(1)));
        assertThat(later.block(WAIT).getLast()).isEqualTo(new StreamEvent.Finished(FinishReason.LENGTH, 1,
                new Usage(11, 2), null));
    }

    @Test
    void aJobIsVisibleOnlyToItsTenant() {
        JobHub hub = hub(100, Duration.ofSeconds(10));
        hub.submitted("mine", "acme", "m", Chunks.T0);
        hub.onStatus(status("theirs", "globex", JobState.RUNNING, -1, 1, null, 1));
        hub.onTokens(chunk("unknown-owner", 0, 1));
        assertThat(hub.find("mine", "acme")).isPresent();
        assertThat(hub.find("mine", "globex")).isEmpty();
        assertThat(hub.find("theirs", "globex")).isPresent();
        assertThat(hub.find("theirs", "acme")).isEmpty();
        assertThat(hub.find("unknown-owner", "acme")).isEmpty();
        assertThat(hub.find("nothing", "acme")).isEmpty();
    }

    @Test
    void keepsAtMostMaxJobsDroppingTheLeastRecentlyUpdated() {
        JobHub hub = new JobHub(archive, new GatewayProperties.Streams(Duration.ofSeconds(10), 3, 10,
                Duration.ofSeconds(1), Duration.ofSeconds(1), 100));
        for (int i = 0; i < 4; i++) {
            hub.submitted("j" + i, "acme", "m", Chunks.T0);
        }
        hub.onTokens(chunk("j1", 0, 0)); // j1 is now the most recent
        hub.submitted("j4", "acme", "m", Chunks.T0);
        assertThat(hub.size()).isEqualTo(3);
        assertThat(hub.find("j0", "acme")).isEmpty();
        assertThat(hub.find("j2", "acme")).isEmpty();
        assertThat(hub.find("j1", "acme")).isPresent();
        assertThat(hub.find("j3", "acme")).isPresent();
    }

    static List<StreamEvent.Tokens> tokens(List<StreamEvent> events) {
        return events.stream().filter(StreamEvent.Tokens.class::isInstance).map(StreamEvent.Tokens.class::cast).toList();
    }

    static List<Integer> tokenIds(List<StreamEvent> events) {
        return tokens(events).stream().flatMap(t -> t.tokenIds().stream()).toList();
    }

    static String text(List<StreamEvent> events) {
        return String.join("", tokens(events).stream().map(StreamEvent.Tokens::text).toList());
    }

    static List<Integer> ids(long from, long to) {
        return LongStream.rangeClosed(from, to).mapToObj(i -> (int) (100 + i)).toList();
    }
}
