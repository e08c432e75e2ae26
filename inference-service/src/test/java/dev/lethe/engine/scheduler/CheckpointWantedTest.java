package dev.lethe.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testutil.SharedFiles;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The scheduler asks a job's listener before it serialises a checkpoint: a refused checkpoint is never written (no
 * {@link JobListener#onCheckpoint}), is due again only a whole interval later, and does not change the job's tokens;
 * a refused preemption checkpoint leaves without one.
 */
class CheckpointWantedTest {
    private static final int EVERY = 10;
    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(SharedFiles.storiesModel());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** Answers {@link #checkpointWanted} with {@link #wanted} and records what the scheduler asks and hands over. */
    static final class Gate implements JobListener {
        boolean wanted;
        final List<Integer> askedAt = new ArrayList<>();
        final List<Boolean> askedLeaving = new ArrayList<>();
        final List<TakenCheckpoint> checkpoints = new ArrayList<>();
        final List<Integer> ids = new ArrayList<>();
        int failed;
        boolean preempted;
        TakenCheckpoint preemptedWith;
        JobOutcome outcome;

        Gate(boolean wanted) {
            this.wanted = wanted;
        }

        @Override
        public boolean checkpointWanted(boolean leaving) {
            askedAt.add(ids.size());
            askedLeaving.add(leaving);
            return wanted;
        }

        @Override
        public void onCheckpoint(TakenCheckpoint checkpoint) {
            checkpoints.add(checkpoint);
        }

        @Override
        public void onCheckpointFailed() {
            failed++;
        }

        @Override
        public void onStarted(int promptTokens) {
        }

        @Override
        public void onToken(int seq, int tokenId, String text) {
            ids.add(tokenId);
        }

        @Override
        public void onPreempted(PreemptReason reason, TakenCheckpoint checkpoint) {
            preempted = true;
            preemptedWith = checkpoint;
        }

        @Override
        public void onFinished(JobOutcome outcome) {
            this.outcome = outcome;
        }
    }

    private static JobSpec job(String id, int maxTokens) {
        return new JobSpec(id, model.tokenizer().encode("Once upon a time", true, false),
                new SamplingParams(0.8f, 0, 0.95f, 0f, 77, maxTokens, List.of()), PolicySpec.of("lethe"), 5);
    }

    private static ContinuousBatchScheduler scheduler() {
        return new ContinuousBatchScheduler(model, policy -> KvCaches.create(model.kvLayout(), policy),
                new SchedulerConfig(2, 4, 0, EVERY, Duration.ZERO), () -> {});
    }

    private static void stepUntil(ContinuousBatchScheduler scheduler, BooleanSupplier done) {
        for (int i = 0; i < 5_000 && !done.getAsBoolean(); i++) scheduler.step();
        assertTrue(done.getAsBoolean(), "not reached within 5000 steps");
    }

    @Test
    void aRefusedCheckpointIsNotSerialisedAndIsDueAgainOnlyAfterAnotherInterval() {
        Gate taking = new Gate(true);
        Gate refusing = new Gate(false);
        try (var scheduler = scheduler()) {
            scheduler.submit(job("taking", 95), taking);
            scheduler.submit(job("refusing", 95), refusing);
            stepUntil(scheduler, () -> taking.outcome != null && refusing.outcome != null);
        }
        assertEquals(9, taking.askedAt.size(), "one checkpoint per " + EVERY + " tokens of 95: " + taking.askedAt);
        assertEquals(taking.askedAt.size(), taking.checkpoints.size(), "every wanted checkpoint is handed over");
        assertEquals(taking.askedAt, refusing.askedAt, "a refused checkpoint is asked for again on the same cadence, not every step");
        assertTrue(refusing.checkpoints.isEmpty(), "a refused checkpoint was serialised and handed over");
        assertEquals(0, refusing.failed);
        assertEquals(taking.ids, refusing.ids, "refusing checkpoints changes nothing in the job's tokens");
        assertTrue(taking.askedLeaving.stream().noneMatch(l -> l));
    }

    @Test
    void aCheckpointRefusedWhileTheStoreIsDownIsTakenOnceItIsWantedAgain() {
        Gate gate = new Gate(false);
        try (var scheduler = scheduler()) {
            scheduler.submit(job("flapping", 200), gate);
            stepUntil(scheduler, () -> gate.askedAt.size() == 3);
            assertTrue(gate.checkpoints.isEmpty());
            gate.wanted = true;
            stepUntil(scheduler, () -> gate.askedAt.size() == 4);
            assertEquals(1, gate.checkpoints.size(), "the first checkpoint wanted is taken");
            assertEquals(gate.askedAt.getLast() - 1, gate.checkpoints.getFirst().lastSeq(), "it holds every token so far");
        }
    }

    @Test
    void aPreemptionWhoseCheckpointIsRefusedLeavesWithoutOne() {
        Gate refused = new Gate(false);
        Gate wanted = new Gate(true);
        try (var scheduler = scheduler()) {
            scheduler.submit(job("refused", 300), refused);
            scheduler.submit(job("wanted", 300), wanted);
            stepUntil(scheduler, () -> refused.ids.size() >= 5 && wanted.ids.size() >= 5);
            assertTrue(scheduler.preempt("refused", PreemptReason.REQUESTED));
            assertTrue(scheduler.preempt("wanted", PreemptReason.REQUESTED));
            scheduler.step();
        }
        assertTrue(refused.preempted);
        assertNull(refused.preemptedWith, "a refused preemption checkpoint was serialised");
        assertEquals(List.of(true), refused.askedLeaving, "asked once, as the checkpoint of a job leaving");
        assertTrue(wanted.preempted);
        assertNotNull(wanted.preemptedWith);
        assertEquals(wanted.ids.size() - 1, wanted.preemptedWith.lastSeq());
        assertEquals(List.of(true), wanted.askedLeaving);
    }

    @Test
    void aLostJobIsNotAskedForACheckpoint() {
        Gate gate = new Gate(true);
        try (var scheduler = scheduler()) {
            scheduler.submit(job("lost", 300), gate);
            stepUntil(scheduler, () -> gate.ids.size() >= 5);
            assertTrue(scheduler.preempt("lost", PreemptReason.LOST));
            scheduler.step();
        }
        assertTrue(gate.preempted);
        assertNull(gate.preemptedWith);
        assertTrue(gate.askedAt.isEmpty(), "asked for the checkpoint of a lost job: " + gate.askedAt);
    }
}
