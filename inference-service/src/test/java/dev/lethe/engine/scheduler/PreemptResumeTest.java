package dev.lethe.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.checkpoint.CheckpointCodec;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testutil.SharedFiles;
import dev.lethe.engine.testutil.SoloRun;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Jobs leave the scheduler with a checkpoint and come back (here, or as another worker would take them over), and
 * the tokens their client sees are exactly those of the uninterrupted run: with the delivered tokens equal to the
 * checkpoint's, ahead of it (replayed) or behind it (caught up); recomputed without a checkpoint; and preempted by
 * the scheduler itself under a KV budget.
 */
class PreemptResumeTest {
    private static final PolicySpec LETHE = PolicySpec.of("lethe", "delta", "32", "sparse-ratio", "20");
    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(SharedFiles.storiesModel());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** One job's events, by seq, as a client's stream would hold them. */
    static final class Client implements JobListener {
        final List<Integer> ids = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        final List<TakenCheckpoint> checkpoints = new ArrayList<>();
        ResumeReport resumed;
        PreemptReason preemptedFor;
        TakenCheckpoint preemptedAt;
        JobOutcome outcome;

        @Override
        public void onStarted(int promptTokens) {
        }

        @Override
        public void onResumed(int promptTokens, ResumeReport report) {
            resumed = report;
        }

        @Override
        public void onToken(int seq, int tokenId, String delta) {
            assertEquals(ids.size(), seq, "the stream must have no gap and no duplicate");
            ids.add(tokenId);
            text.append(delta);
        }

        @Override
        public void onCheckpoint(TakenCheckpoint checkpoint) {
            checkpoints.add(checkpoint);
        }

        @Override
        public void onPreempted(PreemptReason reason, TakenCheckpoint checkpoint) {
            preemptedFor = reason;
            preemptedAt = checkpoint;
        }

        @Override
        public void onFinished(JobOutcome o) {
            outcome = o;
            text.append(o.trailingText());
        }

        /** A client that already has the first {@code n} tokens (with their text) of another client's stream. */
        Client continuing(Client from, int n) {
            ids.addAll(from.ids.subList(0, n));
            return this;
        }
    }

    private static JobSpec job(String id, float temperature, int maxTokens, int priority) {
        return new JobSpec(id, model.tokenizer().encode("Once upon a time", true, false),
                new SamplingParams(temperature, 0, 0.95f, 0f, 4242 + id.hashCode(), maxTokens, List.of()), LETHE, priority);
    }

    private static ContinuousBatchScheduler scheduler(SchedulerConfig config) {
        return new ContinuousBatchScheduler(model, policy -> KvCaches.create(model.kvLayout(), policy), config, () -> {});
    }

    private static CheckpointSource source(byte[] blob) {
        return () -> CheckpointCodec.read(new ByteArrayInputStream(blob), model.identity(), KvBlockPool.unbounded(model.kvLayout()));
    }

    private static void stepUntil(ContinuousBatchScheduler scheduler, java.util.function.BooleanSupplier done) {
        for (int i = 0; i < 5_000 && !done.getAsBoolean(); i++) scheduler.step();
        assertTrue(done.getAsBoolean(), "not reached within 5000 steps");
    }

    private static String textOf(List<Integer> ids) {
        StringBuilder text = new StringBuilder();
        var detokenizer = new dev.lethe.engine.tokenizer.Detokenizer(model.tokenizer());
        for (int t : model.tokenizer().encode("Once upon a time", true, false)) detokenizer.push(t);
        for (int id : ids) text.append(detokenizer.push(id));
        return text.append(detokenizer.flush()).toString();
    }

    @Test
    void aPreemptedJobResumedFromItsCheckpointStreamsExactlyTheUninterruptedRun() {
        JobSpec spec = job("preempted", 0.9f, 300, 5);
        SoloRun.Result reference = SoloRun.run(model, spec.prompt(), spec.sampling(), spec.kvPolicy());
        try (var scheduler = scheduler(new SchedulerConfig(2, 4))) {
            Client first = new Client();
            scheduler.submit(spec, first);
            stepUntil(scheduler, () -> first.ids.size() >= 97);
            assertTrue(scheduler.preempt("preempted", PreemptReason.REQUESTED));
            scheduler.step();
            assertEquals(PreemptReason.REQUESTED, first.preemptedFor);
            assertNotNull(first.preemptedAt);
            assertEquals(first.ids.size() - 1, first.preemptedAt.lastSeq(), "the checkpoint holds every token handed out");
            assertFalse(scheduler.isKnown("preempted"));
            assertEquals(0, scheduler.snapshot().kvBytesRetained(), "the preempted job's KV memory is free");

            Client second = new Client().continuing(first, first.ids.size());
            second.text.append(first.text);
            scheduler.resume(spec, second, new Resumption(source(first.preemptedAt.blob()), toArray(first.ids), 0));
            stepUntil(scheduler, () -> second.outcome != null);
            assertTrue(second.resumed.fromCheckpoint());
            assertEquals(0, second.resumed.replayed());
            assertEquals(reference.ids(), second.ids);
            assertEquals(reference.text(), second.text.toString());
        }
    }

    @Test
    void tokensDeliveredAfterTheCheckpointAreReplayedAndTheRunContinuesExactly() {
        JobSpec spec = job("replayed", 1.0f, 320, 5);
        SoloRun.Result reference = SoloRun.run(model, spec.prompt(), spec.sampling(), spec.kvPolicy());
        try (var scheduler = scheduler(new SchedulerConfig(2, 4, 0, 40, Duration.ZERO))) {
            Client crashed = new Client();
            scheduler.submit(spec, crashed);
            stepUntil(scheduler, () -> crashed.ids.size() >= 150); // a "crash" here: the newest checkpoint is at seq 119
            scheduler.cancel("replayed");
            scheduler.step();
            TakenCheckpoint newest = crashed.checkpoints.getLast();
            assertEquals(119, newest.lastSeq());
            assertEquals(3, crashed.checkpoints.size());

            Client next = new Client().continuing(crashed, crashed.ids.size());
            scheduler.resume(spec, next, new Resumption(source(newest.blob()), toArray(crashed.ids), 0));
            stepUntil(scheduler, () -> next.outcome != null);
            assertTrue(next.resumed.fromCheckpoint());
            assertEquals(crashed.ids.size() - 120, next.resumed.replayed());
            assertEquals(0, next.resumed.replayDiffering(), "this engine reproduces its own run");
            assertEquals(reference.ids(), next.ids);
            assertEquals(reference.text(), textOf(next.ids));
        }
    }

    @Test
    void tokensTheCheckpointHoldsButTheClientLacksAreSentFirst() {
        JobSpec spec = job("caught-up", 0.8f, 250, 5);
        SoloRun.Result reference = SoloRun.run(model, spec.prompt(), spec.sampling(), spec.kvPolicy());
        try (var scheduler = scheduler(new SchedulerConfig(2, 4))) {
            Client first = new Client();
            scheduler.submit(spec, first);
            stepUntil(scheduler, () -> first.ids.size() >= 80);
            scheduler.preempt("caught-up", PreemptReason.HANDOVER);
            scheduler.step();
            int received = 61; // the worker died before its last chunks reached Kafka
            Client next = new Client().continuing(first, received);
            scheduler.resume(spec, next, new Resumption(source(first.preemptedAt.blob()), toArray(first.ids.subList(0, received)), 0));
            stepUntil(scheduler, () -> next.outcome != null);
            assertEquals(first.ids.size() - received, next.resumed.caughtUp());
            assertEquals(reference.ids(), next.ids);
        }
    }

    @Test
    void withoutAUsableCheckpointTheJobIsRecomputedFromTheDeliveredTokens() {
        JobSpec spec = job("recomputed", 0.9f, 200, 5);
        try (var scheduler = scheduler(new SchedulerConfig(2, 4))) {
            Client first = new Client();
            scheduler.submit(spec, first);
            stepUntil(scheduler, () -> first.ids.size() >= 70);
            scheduler.preempt("recomputed", PreemptReason.REQUESTED);
            scheduler.step();
            byte[] corrupted = first.preemptedAt.blob().clone();
            corrupted[corrupted.length / 2] ^= 0x5a;

            Client next = new Client().continuing(first, first.ids.size());
            scheduler.resume(spec, next, new Resumption(source(corrupted), toArray(first.ids), 0));
            stepUntil(scheduler, () -> next.outcome != null);
            assertFalse(next.resumed.fromCheckpoint());
            assertNotNull(next.resumed.fallback());
            assertTrue(next.resumed.fallback().contains("checkpoint not usable"), next.resumed.fallback());
            assertEquals(first.ids, next.ids.subList(0, first.ids.size()));
            assertEquals(200, next.ids.size());

            // The continuation is what the engine makes of exactly the delivered text: recompute it alone.
            Client alone = new Client().continuing(first, first.ids.size());
            scheduler.resume(spec, alone, new Resumption(null, toArray(first.ids), 0));
            stepUntil(scheduler, () -> alone.outcome != null);
            assertNull(alone.resumed.fallback());
            assertEquals(next.ids, alone.ids);
        }
    }

    @Test
    void aCheckpointThatDisagreesWithTheDeliveredTokensIsNotUsed() {
        JobSpec spec = job("disagreeing", 0.9f, 150, 5);
        try (var scheduler = scheduler(new SchedulerConfig(2, 4))) {
            Client first = new Client();
            scheduler.submit(spec, first);
            stepUntil(scheduler, () -> first.ids.size() >= 40);
            scheduler.preempt("disagreeing", PreemptReason.REQUESTED);
            scheduler.step();
            int[] delivered = toArray(first.ids);
            delivered[17] = delivered[17] == 1 ? 2 : 1;
            Client next = new Client();
            for (int id : delivered) next.ids.add(id);
            scheduler.resume(spec, next, new Resumption(source(first.preemptedAt.blob()), delivered, 0));
            stepUntil(scheduler, () -> next.outcome != null);
            assertFalse(next.resumed.fromCheckpoint());
            assertTrue(next.resumed.fallback().contains("at seq 17"), next.resumed.fallback());
            assertArrayEquals(delivered, toArray(next.ids.subList(0, delivered.length)));
        }
    }

    @Test
    void overItsKvBudgetTheSchedulerPreemptsTheLowestPriorityThenTheYoungestJob() {
        long perToken = model.kvLayout().bytesPerTokenPerLayer() * model.kvLayout().layers();
        PolicySpec full = PolicySpec.of("full");
        try (var scheduler = scheduler(new SchedulerConfig(3, 4, 420 * perToken, 0, Duration.ZERO))) {
            JobSpec oldLow = new JobSpec("old-low", job("x", 0.9f, 1, 5).prompt(), SamplingParams.greedy(200), full, 1);
            JobSpec high = new JobSpec("high", oldLow.prompt(), new SamplingParams(0.9f, 0, 1f, 0f, 3, 200, List.of()), full, 8);
            JobSpec youngLow = new JobSpec("young-low", oldLow.prompt(), new SamplingParams(0.9f, 0, 1f, 0f, 5, 200, List.of()), full, 1);
            Client a = new Client();
            Client b = new Client();
            Client c = new Client();
            scheduler.submit(oldLow, a);
            scheduler.submit(high, b);
            scheduler.submit(youngLow, c);
            stepUntil(scheduler, () -> c.preemptedFor != null);
            assertEquals(PreemptReason.MEMORY, c.preemptedFor);
            assertNull(a.preemptedFor, "the older of the two low-priority jobs stays");
            assertNull(b.preemptedFor);
            assertTrue(scheduler.snapshot().kvBytesRetained() <= 420 * perToken);
            assertNotNull(c.preemptedAt);

            // Back in the queue, it waits until the memory is free, then continues exactly.
            Client cAgain = new Client().continuing(c, c.ids.size());
            scheduler.resume(youngLow, cAgain, new Resumption(source(c.preemptedAt.blob()), toArray(c.ids), c.preemptedAt.kvBytes()));
            stepUntil(scheduler, () -> cAgain.outcome != null && a.outcome != null && b.outcome != null);
            assertTrue(cAgain.resumed.fromCheckpoint());
            SoloRun.Result reference = SoloRun.run(model, youngLow.prompt(), youngLow.sampling(), full);
            assertEquals(reference.ids(), cAgain.ids);
        }
    }

    @Test
    void aQueuedJobOfHigherPriorityTakesTheSlotOfTheWeakestRunningOne() {
        try (var scheduler = scheduler(new SchedulerConfig(1, 4))) {
            Client low = new Client();
            scheduler.submit(job("low", 0.9f, 200, 2), low);
            stepUntil(scheduler, () -> low.ids.size() >= 10);
            Client urgent = new Client();
            scheduler.submit(job("urgent", 0.9f, 20, 9), urgent);
            stepUntil(scheduler, () -> low.preemptedFor != null);
            assertEquals(PreemptReason.MEMORY, low.preemptedFor);
            stepUntil(scheduler, () -> urgent.outcome != null);
            assertEquals(JobOutcome.Ending.LENGTH, urgent.outcome.ending());
        }
    }

    @Test
    void aCheckpointFromTheSourceOfAnotherModelIsRefusedAndTheJobRecomputed() throws IOException {
        JobSpec spec = job("other-model", 0.9f, 60, 5);
        try (var scheduler = scheduler(new SchedulerConfig(2, 4))) {
            Client first = new Client();
            scheduler.submit(spec, first);
            stepUntil(scheduler, () -> first.ids.size() >= 20);
            scheduler.preempt("other-model", PreemptReason.REQUESTED);
            scheduler.step();
            var otherIdentity = new dev.lethe.cache.checkpoint.ModelIdentity("0".repeat(64), model.identity().tokenizerHash(), model.kvLayout());
            byte[] blob = first.preemptedAt.blob();
            CheckpointSource other = () -> CheckpointCodec.read(new ByteArrayInputStream(blob), otherIdentity,
                    KvBlockPool.unbounded(model.kvLayout()));
            Client next = new Client().continuing(first, first.ids.size());
            scheduler.resume(spec, next, new Resumption(other, toArray(first.ids), 0));
            stepUntil(scheduler, () -> next.outcome != null);
            assertFalse(next.resumed.fromCheckpoint());
            assertTrue(next.resumed.fallback().contains("model"), next.resumed.fallback());
            assertEquals(60, next.ids.size());
        }
    }

    private static int[] toArray(List<Integer> ids) {
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }
}
