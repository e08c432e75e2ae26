package dev.lethe.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCacheListener;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.generate.FinishReason;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testutil.SharedFiles;
import dev.lethe.engine.testutil.SoloRun;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ContinuousBatchSchedulerTest {
    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(SharedFiles.storiesModel());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** What a job produced: its token ids, its text, how it ended. */
    record Output(List<Integer> ids, String text, JobOutcome.Ending ending) {}

    /** Records one job's events; {@code log} is shared by all jobs of a test, to see how they interleave. */
    static final class Recorder implements JobListener {
        final String jobId;
        final List<String> log;
        final List<Integer> ids = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        int startedWith = -1;
        JobOutcome outcome;
        int finishes;

        Recorder(String jobId, List<String> log) {
            this.jobId = jobId;
            this.log = log;
        }

        @Override
        public void onStarted(int promptTokens) {
            startedWith = promptTokens;
            log.add("start " + jobId);
        }

        @Override
        public void onToken(int seq, int tokenId, String delta) {
            assertEquals(ids.size(), seq, "seq of job " + jobId);
            ids.add(tokenId);
            text.append(delta);
            log.add(jobId);
        }

        @Override
        public void onFinished(JobOutcome o) {
            outcome = o;
            finishes++;
            text.append(o.trailingText());
            log.add("end " + jobId);
        }

        Output output() {
            return new Output(ids, text.toString(), outcome.ending());
        }
    }

    private static int[] prompt(String text) {
        return model.tokenizer().encode(text, true, false);
    }

    private static JobSpec job(String id, String prompt, SamplingParams sampling, PolicySpec policy) {
        return new JobSpec(id, prompt(prompt), sampling, policy, 5);
    }

    private static SamplingParams seeded(float temperature, float topP, long seed, int maxTokens) {
        return new SamplingParams(temperature, 0, topP, 0f, seed, maxTokens, List.of());
    }

    /** The same job run alone, straight on the engine, as the CLI does. */
    private static Output solo(JobSpec spec) {
        SoloRun.Result r = SoloRun.run(model, spec.prompt(), spec.sampling(), spec.kvPolicy());
        return new Output(r.ids(), r.text(),
                r.finishReason() == FinishReason.STOP ? JobOutcome.Ending.STOP : JobOutcome.Ending.LENGTH);
    }

    private static ContinuousBatchScheduler scheduler(int maxActive, int queueCapacity, Runnable onRoom) {
        return new ContinuousBatchScheduler(model, policy -> KvCaches.create(model.kvLayout(), policy),
                new SchedulerConfig(maxActive, queueCapacity), onRoom);
    }

    private static void runToEnd(ContinuousBatchScheduler scheduler) {
        for (int i = 0; i < 10_000 && scheduler.step(); i++) {
            // bounded, in case a bug kept a job alive
        }
        assertFalse(scheduler.step(), "jobs still queued or running after 10000 steps");
    }

    @Test
    void interleavedJobsProduceExactlyWhatEachProducesAlone() {
        AtomicLong rounds = new AtomicLong();
        // Lethe with a small delta and tau so that its pruning rounds run in the middle of the batch.
        PolicySpec pruning = PolicySpec.of("lethe", "delta", "16", "sparse-ratio", "2");
        List<JobSpec> specs = List.of(
                job("greedy-full", "Once upon a time", SamplingParams.greedy(60), PolicySpec.of("full")),
                job("seeded-lethe", "Tim and Sue", seeded(0.9f, 1f, 7, 120), pruning),
                job("nucleus-streaming", "The cat", seeded(1f, 0.9f, 11, 80), PolicySpec.of("streamingllm", "window", "24")),
                job("greedy-lethe", "Lily had a ball", SamplingParams.greedy(90), pruning));
        List<String> log = new ArrayList<>();
        Map<String, Recorder> recorders = new LinkedHashMap<>();
        try (var scheduler = new ContinuousBatchScheduler(model, policy -> {
            OffHeapKvCache cache = KvCaches.create(model.kvLayout(), policy);
            cache.addListener(new KvCacheListener() {
                @Override
                public void roundRun(long step, int layer, int before, int after) {
                    rounds.incrementAndGet();
                }
            });
            return cache;
        }, new SchedulerConfig(4, 8), () -> {})) {
            for (JobSpec spec : specs) {
                Recorder recorder = new Recorder(spec.jobId(), log);
                recorders.put(spec.jobId(), recorder);
                scheduler.submit(spec, recorder);
            }
            runToEnd(scheduler);
        }
        for (JobSpec spec : specs) {
            Recorder recorder = recorders.get(spec.jobId());
            assertEquals(1, recorder.finishes, spec.jobId());
            assertEquals(spec.prompt().length, recorder.startedWith, spec.jobId());
            assertEquals(solo(spec), recorder.output(), spec.jobId());
            assertTrue(recorder.ids.size() >= 4, spec.jobId() + " generated only " + recorder.ids.size());
        }
        // One step advances every active job: the first four tokens come from four different jobs, and so do the next four.
        List<String> tokens = log.stream().filter(e -> !e.contains(" ")).toList();
        assertEquals(4, new HashSet<>(tokens.subList(0, 4)).size(), tokens.subList(0, 8).toString());
        assertEquals(4, new HashSet<>(tokens.subList(4, 8)).size(), tokens.subList(0, 8).toString());
        assertTrue(rounds.get() > 0, "no Lethe pruning round ran");
    }

    @Test
    void queuedJobsJoinAsSlotsFreeHighestPriorityFirst() {
        List<String> log = new ArrayList<>();
        JobSpec first = new JobSpec("first", prompt("Once"), SamplingParams.greedy(5), PolicySpec.of("full"), 5);
        JobSpec low = new JobSpec("low", prompt("Tim"), seeded(0.8f, 1f, 3, 12), PolicySpec.of("full"), 1);
        JobSpec high = new JobSpec("high", prompt("Sue"), seeded(0.8f, 1f, 4, 12), PolicySpec.of("lethe"), 9);
        Map<String, Recorder> recorders = new LinkedHashMap<>();
        try (var scheduler = scheduler(2, 8, () -> {})) {
            for (JobSpec spec : List.of(first, low, high)) {
                recorders.put(spec.jobId(), new Recorder(spec.jobId(), log));
            }
            scheduler.submit(first, recorders.get("first"));
            scheduler.step(); // "first" starts alone, so it is ahead of the two queued below
            scheduler.submit(low, recorders.get("low"));
            scheduler.submit(high, recorders.get("high"));
            runToEnd(scheduler);
        }
        // Two slots: "high" takes the free one at once; "low" waits until "first" (5 tokens) ends.
        assertTrue(log.indexOf("start high") < log.indexOf("start low"), log.toString());
        assertTrue(log.indexOf("end first") < log.indexOf("start low"), log.toString());
        assertTrue(log.indexOf("start high") < log.indexOf("end first"), log.toString());
        for (JobSpec spec : List.of(first, low, high)) {
            assertEquals(solo(spec), recorders.get(spec.jobId()).output(), spec.jobId());
        }
    }

    @Test
    void cancelEndsARunningJobAtTheNextStepAndAQueuedOneBeforeItStarts() {
        List<String> log = new ArrayList<>();
        Recorder running = new Recorder("long", log);
        Recorder queued = new Recorder("waiting", log);
        try (var scheduler = scheduler(1, 4, () -> {})) {
            scheduler.submit(job("long", "Once upon a time", SamplingParams.greedy(400), PolicySpec.of("lethe")), running);
            scheduler.submit(job("waiting", "Tim", SamplingParams.greedy(400), PolicySpec.of("full")), queued);
            for (int i = 0; i < 10; i++) scheduler.step();
            int before = running.ids.size();
            assertEquals(10, before);
            assertTrue(scheduler.cancel("long"));
            assertTrue(scheduler.cancel("waiting"));
            assertFalse(scheduler.cancel("no-such-job"));
            scheduler.step();
            assertNotNull(running.outcome, "not cancelled within one step");
            assertEquals(JobOutcome.Ending.CANCELLED, running.outcome.ending());
            assertEquals(before, running.outcome.generatedTokens());
            assertEquals(before, running.ids.size(), "a token came after the cancel");
            assertEquals(new JobOutcome(JobOutcome.Ending.CANCELLED, 0, 0, "", null), queued.outcome);
            assertEquals(-1, queued.startedWith, "a cancelled queued job must not start");
            assertFalse(scheduler.step(), "nothing should be left");
            assertFalse(scheduler.isKnown("long"));
        }
    }

    @Test
    void theQueueIsBoundedAndSaysWhenThereIsRoomAgain() {
        AtomicInteger roomCalls = new AtomicInteger();
        List<String> log = new ArrayList<>();
        try (var scheduler = scheduler(1, 2, roomCalls::incrementAndGet)) {
            scheduler.submit(job("a", "Once", SamplingParams.greedy(3), PolicySpec.of("full")), new Recorder("a", log));
            assertTrue(scheduler.hasRoom());
            scheduler.submit(job("b", "Once", SamplingParams.greedy(3), PolicySpec.of("full")), new Recorder("b", log));
            assertFalse(scheduler.hasRoom());
            JobSpec c = job("c", "Once", SamplingParams.greedy(3), PolicySpec.of("full"));
            assertThrows(QueueFullException.class, () -> scheduler.submit(c, new Recorder("c", log)));
            assertFalse(scheduler.isKnown("c"), "a refused job must not be queued");
            assertEquals(0, roomCalls.get());

            scheduler.step(); // "a" leaves the queue for the one slot
            assertEquals(1, roomCalls.get());
            assertTrue(scheduler.hasRoom());
            assertEquals(new SchedulerSnapshot(1, 1, scheduler.snapshot().kvBytesRetained(),
                    scheduler.snapshot().kvBytesFull(), 1), scheduler.snapshot());
            assertTrue(scheduler.snapshot().kvBytesRetained() > 0);
            scheduler.submit(c, new Recorder("c", log)); // "b" and "c" fill the queue again
            assertFalse(scheduler.hasRoom());
            assertThrows(IllegalArgumentException.class, () -> scheduler.submit(
                    job("a", "Tim", SamplingParams.greedy(3), PolicySpec.of("full")), new Recorder("a2", log)));
            runToEnd(scheduler);
            assertEquals(2, roomCalls.get(), "told of room once per time the queue ran full");
            assertEquals(new SchedulerSnapshot(0, 0, 0, 0, scheduler.snapshot().steps()), scheduler.snapshot());
        }
    }

    @Test
    void aJobThatFailsEndsAloneAndTheOthersGoOn() {
        List<String> log = new ArrayList<>();
        int context = model.config().contextLength();
        int[] tooLong = new int[context + 8];
        Arrays.fill(tooLong, prompt("Once")[1]);
        Recorder failing = new Recorder("too-long", log);
        Recorder fine = new Recorder("fine", log);
        JobSpec fineSpec = job("fine", "Once upon a time", SamplingParams.greedy(20), PolicySpec.of("lethe"));
        try (var scheduler = scheduler(2, 4, () -> {})) {
            scheduler.submit(new JobSpec("too-long", tooLong, SamplingParams.greedy(5), PolicySpec.of("full"), 5), failing);
            scheduler.submit(fineSpec, fine);
            runToEnd(scheduler);
        }
        assertEquals(JobOutcome.Ending.FAILED, failing.outcome.ending());
        assertTrue(failing.outcome.error().contains(Integer.toString(context)), failing.outcome.error());
        assertEquals(-1, failing.startedWith);
        assertEquals(solo(fineSpec), fine.output());
    }

    @Test
    void theDecodeLoopRunsJobsOnItsOwnThread() throws Exception {
        CompletableFuture<JobOutcome> done = new CompletableFuture<>();
        List<Integer> ids = new java.util.concurrent.CopyOnWriteArrayList<>();
        JobSpec spec = job("threaded", "Once upon a time", seeded(0.8f, 0.95f, 42, 30), PolicySpec.of("lethe"));
        var scheduler = scheduler(2, 4, () -> {});
        try (var loop = new DecodeLoop(scheduler, "test-decode")) {
            loop.start();
            scheduler.submit(spec, new JobListener() {
                @Override
                public void onStarted(int promptTokens) {
                }

                @Override
                public void onToken(int seq, int tokenId, String text) {
                    assertEquals("test-decode", Thread.currentThread().getName());
                    ids.add(tokenId);
                }

                @Override
                public void onFinished(JobOutcome outcome) {
                    done.complete(outcome);
                }
            });
            JobOutcome outcome = done.get(30, TimeUnit.SECONDS);
            assertEquals(solo(spec).ids(), ids);
            assertEquals(ids.size(), outcome.generatedTokens());
            assertTrue(loop.alive());
            assertEquals(null, loop.lastError());
        }
    }
}
