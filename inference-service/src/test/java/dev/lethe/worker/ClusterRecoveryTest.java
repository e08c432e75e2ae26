package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.scheduler.ContinuousBatchScheduler;
import dev.lethe.engine.scheduler.JobListener;
import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.engine.scheduler.JobSpec;
import dev.lethe.engine.scheduler.Resumption;
import dev.lethe.engine.scheduler.SchedulerConfig;
import dev.lethe.engine.testutil.SoloRun;
import dev.lethe.engine.tokenizer.Detokenizer;
import dev.lethe.schemas.CheckpointManifest;
import dev.lethe.schemas.Control;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.KvPolicy;
import dev.lethe.schemas.Sampling;
import dev.lethe.schemas.TokenChunk;
import dev.lethe.schemas.Topics;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Lethe as separate processes (a standalone broker and two to three worker JVMs sharing a checkpoint folder)
 * with jobs moved between workers on purpose and by crashes. Every job's stream is checked token by token:
 * every seq exactly once, contiguous from 0, ending with a finish reason; and its tokens are those of the
 * uninterrupted run of the same job on the engine, or, where a job had to be recomputed without a checkpoint, what
 * the engine makes of exactly the tokens delivered before that point.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.Tag("multi-process")
class ClusterRecoveryTest {
    private static final int PARTITIONS = 4;
    private static final String PROMPT = "Once upon a time";
    private static final PolicySpec POLICY = PolicySpec.of("lethe", "delta", "32", "sparse-ratio", "20");
    private static final KvPolicy REQUEST_POLICY = new KvPolicy("lethe", Map.of("delta", 32.0, "sparse-ratio", 20.0));
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(180);
    private static final EventCodec CODEC = new EventCodec();

    private static LocalCluster cluster;
    private static KafkaProducer<byte[], byte[]> producer;
    private static ClusterView view;
    private static Model model;
    private static int[] prompt;
    private static final List<String> live = new ArrayList<>();
    private static int nextWorker = 1;
    private static boolean failed;

    @BeforeAll
    static void startCluster() throws Exception {
        model = Model.load(Path.of(System.getProperty("lethe.shared.dir"), "models", "stories260K.gguf"));
        prompt = model.tokenizer().encode(PROMPT, true, false);
        cluster = LocalCluster.start(PARTITIONS, List.of(
                "--lethe.worker.min-step-time=8ms",
                "--lethe.worker.max-active-jobs=4",
                "--lethe.worker.checkpoints.every-tokens=24",
                "--lethe.worker.checkpoints.every=0s",
                "--lethe.worker.checkpoints.preempt-hold=120s",
                "--lethe.worker.checkpoints.handover-timeout=15s"));
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap(),
                ProducerConfig.ACKS_CONFIG, "all"), new ByteArraySerializer(), new ByteArraySerializer());
        for (int i = 0; i < 3; i++) startWorker();
        cluster.awaitMembers(Set.copyOf(live), JOIN_TIMEOUT);
        view = new ClusterView(cluster.bootstrap());
    }

    @AfterAll
    static void stopCluster() {
        if (view != null) view.close();
        if (producer != null) producer.close();
        if (cluster != null) {
            if (failed) System.err.println("cluster logs kept in " + cluster.dir());
            cluster.close(failed);
        }
        if (model != null) model.close();
    }

    private static String startWorker() throws Exception {
        String id = "w" + nextWorker++;
        cluster.startWorker(id);
        live.add(id);
        return id;
    }

    /** Waits until exactly the live workers share the partitions; from then on who owns what stays put. */
    private static Map<String, Set<Integer>> awaitStableGroup() throws Exception {
        cluster.awaitMembers(Set.copyOf(live), JOIN_TIMEOUT);
        return cluster.assignment();
    }

    private static String ownerOf(Map<String, Set<Integer>> assignment, int partition) {
        return assignment.entrySet().stream().filter(e -> e.getValue().contains(partition)).findFirst().orElseThrow().getKey();
    }

    // ---- jobs

    /** A submitted job with the tokens of its uninterrupted run on the engine. */
    private record Job(String id, Sampling sampling, List<Integer> uninterrupted) {
        SamplingParams params() {
            return params(sampling);
        }

        static SamplingParams params(Sampling s) {
            return new SamplingParams((float) s.temperature(), 0, (float) s.topP(), 0f, s.seed(), s.maxTokens(), List.of());
        }
    }

    /**
     * Submits a job that runs its full {@code maxTokens} (the first seed from {@code seed} on whose uninterrupted run
     * does not stop early), so that the moments the tests pick to preempt or kill fall inside it.
     */
    private static Job submit(String id, int maxTokens, double temperature, long seed) throws Exception {
        for (long s = seed; ; s += 1000) {
            Sampling sampling = new Sampling(maxTokens, temperature, 0.95, 0, 0.0, s, List.of());
            List<Integer> uninterrupted = SoloRun.run(model, prompt, Job.params(sampling), POLICY).ids();
            if (uninterrupted.size() < maxTokens) {
                assertTrue(temperature > 0, "the greedy run of " + id + " stops after " + uninterrupted.size() + " tokens");
                continue;
            }
            Job job = new Job(id, sampling, uninterrupted);
            JobRequest request = new JobRequest(id, "acme", PROMPT, null, null, sampling, REQUEST_POLICY, 5, Instant.now());
            producer.send(new ProducerRecord<>(Topics.REQUESTS, id.getBytes(StandardCharsets.UTF_8), CODEC.encode(request))).get();
            return job;
        }
    }

    private static void control(String jobId, Control.Command command) throws Exception {
        producer.send(new ProducerRecord<>(Topics.CONTROL, jobId.getBytes(StandardCharsets.UTF_8),
                CODEC.encode(new Control(jobId, command, "test", Instant.now())))).get();
    }

    private static int partitionOf(String jobId) {
        return Utils.toPositive(Utils.murmur2(jobId.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
    }

    /** A job id of {@code prefix} in the given partition. */
    private static String idIn(String prefix, int partition) {
        for (int i = 0; ; i++) {
            String id = prefix + "-" + i;
            if (partitionOf(id) == partition) return id;
        }
    }

    private static void await(Predicate<ClusterView> done, String what) {
        view.awaitUntil(done, TIMEOUT, what);
    }

    private static void awaitFinished(List<String> jobIds) {
        await(v -> jobIds.stream().allMatch(v::finished), "jobs " + jobIds + " to finish");
    }

    /**
     * Freezes the worker (SIGSTOP: it writes nothing more) and reads everything it wrote, so that what it had
     * finished and what it was still running are known exactly before it is killed.
     */
    private static void freezeAndCatchUp(String worker) throws Exception {
        cluster.freeze(worker);
        view.catchUp(TIMEOUT);
    }

    /** Whether the worker was still decoding the job when it was frozen. */
    private static boolean runningOn(String worker, Job job) {
        JobStatus s = view.status(job.id());
        return s != null && s.state() == JobState.RUNNING && worker.equals(s.worker())
                && view.streamed(job.id()) < job.sampling().maxTokens();
    }

    // ---- checking streams

    /**
     * The job's stream as a client gets it: every seq exactly once, contiguous from 0, the finish reason on the
     * last chunk only; its tokens and text those of the uninterrupted run, or after a recompute what the engine
     * makes of exactly the tokens delivered before it. Returns the job's final state.
     */
    private static JobStatus verify(Job job) {
        view.catchUp(TIMEOUT);
        List<TokenChunk> chunks = view.chunks(job.id());
        List<Integer> ids = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < chunks.size(); i++) {
            TokenChunk c = chunks.get(i);
            assertEquals(ids.size(), c.fromSeq(), job.id() + ": chunk " + c.fromSeq() + ".." + c.toSeq()
                    + " leaves a gap or repeats seqs (stream so far " + ids.size() + " tokens)");
            assertTrue(c.finishReason() == null || i == chunks.size() - 1, job.id() + ": a finish reason before the last chunk");
            ids.addAll(c.tokenIds());
            text.append(c.textDelta());
        }
        assertNotNull(chunks.getLast().finishReason(), job.id() + ": the stream has no end");
        JobStatus status = view.status(job.id());
        assertEquals(JobState.COMPLETED, status.state(), job.id() + ": " + status.history());
        assertEquals(ids.size(), status.completionTokens(), job.id());

        List<JobEvent> recomputes = status.history().stream().filter(e -> e.type() == JobEvent.Type.RECOMPUTED).toList();
        List<Integer> expected;
        if (recomputes.isEmpty()) {
            expected = job.uninterrupted();
        } else {
            // After the last recompute the job is what the engine makes of exactly what was delivered before it.
            int delivered = Integer.parseInt(recomputes.getLast().detail().replaceAll("^delivered=(\\d+).*$", "$1"));
            expected = recompute(job, ids.subList(0, delivered));
            if (recomputes.size() == 1) {
                assertEquals(job.uninterrupted().subList(0, delivered), ids.subList(0, delivered), job.id() + ": before its recompute");
            }
        }
        assertEquals(expected, ids, job.id() + ": tokens, history " + status.history());
        assertEquals(detokenize(ids), text.toString(), job.id() + ": text");
        assertTrue(status.history().stream().noneMatch(e -> e.type() == JobEvent.Type.RESUME_INEXACT), job.id());
        return status;
    }

    private static List<Integer> recompute(Job job, List<Integer> delivered) {
        List<Integer> ids = new ArrayList<>(delivered);
        JobOutcome[] outcome = new JobOutcome[1];
        try (var scheduler = new ContinuousBatchScheduler(model, p -> KvCaches.create(model.kvLayout(), p),
                new SchedulerConfig(1, 1), () -> {})) {
            scheduler.resume(new JobSpec(job.id(), prompt, job.params(), POLICY, 5), new JobListener() {
                @Override
                public void onStarted(int promptTokens) {
                }

                @Override
                public void onToken(int seq, int tokenId, String text) {
                    ids.add(tokenId);
                }

                @Override
                public void onFinished(JobOutcome o) {
                    outcome[0] = o;
                }
            }, new Resumption(null, delivered.stream().mapToInt(Integer::intValue).toArray(), 0));
            while (outcome[0] == null) scheduler.step();
        }
        return ids;
    }

    private static String detokenize(List<Integer> ids) {
        Detokenizer d = new Detokenizer(model.tokenizer());
        for (int t : prompt) d.push(t);
        StringBuilder text = new StringBuilder();
        for (int id : ids) text.append(d.push(id));
        return text.append(d.flush()).toString();
    }

    private static List<JobEvent.Type> types(JobStatus status) {
        return status.history().stream().map(JobEvent::type).toList();
    }

    /** Asserts the job, last run by the victim, was finished by another worker that took it over. */
    private static void assertTakenOver(Job job, JobStatus done, String victim) {
        assertNotEquals(victim, done.worker(), job.id());
        assertTrue(done.history().stream().anyMatch(e -> (e.type() == JobEvent.Type.RESUMED
                || e.type() == JobEvent.Type.RECOMPUTED) && !victim.equals(e.worker())), job.id() + " " + done.history());
    }

    // ---- the tests

    @Test
    @Order(1)
    void aJobPreemptedOnOneWorkerResumesOnAnotherAndStreamsExactlyTheUninterruptedRun() throws Exception {
        try {
            Map<String, Set<Integer>> assignment = awaitStableGroup();
            Job job = submit("graceful", 400, 0.8, 11);
            String first = ownerOf(assignment, partitionOf(job.id()));
            await(v -> v.streamed(job.id()) >= 60, "60 tokens of " + job.id());
            control(job.id(), Control.Command.PREEMPT);
            await(v -> v.status(job.id()).state() == JobState.PREEMPTED, job.id() + " PREEMPTED");
            // The preempted job waits on its worker (the hold is long); the worker stops, and hands it over.
            cluster.stop(first);
            live.remove(first);
            awaitFinished(List.of(job.id()));
            JobStatus done = verify(job);
            List<JobEvent> history = done.history();
            JobEvent preempted = history.stream().filter(e -> e.type() == JobEvent.Type.PREEMPTED).findFirst().orElseThrow();
            assertEquals(first, preempted.worker());
            assertTrue(preempted.detail().startsWith("on request, checkpoint="), preempted.detail());
            JobEvent resumed = history.stream().filter(e -> e.type() == JobEvent.Type.RESUMED).findFirst().orElseThrow();
            assertNotEquals(first, resumed.worker(), "resumed on another worker");
            assertTrue(resumed.detail().contains("replayed=0"), resumed.detail());
            assertEquals(resumed.worker(), done.worker());
            Set<Integer> attempts = new HashSet<>();
            view.chunks(job.id()).forEach(c -> attempts.add(c.attempt()));
            assertEquals(Set.of(1, 2), attempts);
            startWorker(); // for the next test: a worker joins while jobs run
        } catch (Throwable e) {
            failed = true;
            throw e;
        }
    }

    @Test
    @Order(2)
    void workersJoiningAndLeavingMoveRunningJobsWithoutLoss() throws Exception {
        try {
            String joining = live.getLast();
            List<Job> jobs = new ArrayList<>();
            // Waves of jobs in every partition until the new worker is in the group, so some run when it joins:
            // each job runs longer than the pause between waves.
            int wave = 0;
            while (!cluster.assignment().containsKey(joining)) {
                for (int p = 0; p < PARTITIONS; p++) jobs.add(submit(idIn("scale-" + wave, p), 420, 0.9, 100 + 10L * wave + p));
                wave++;
                Thread.sleep(2000);
                assertTrue(wave < 60, "worker " + joining + " never joined:\n" + cluster.tail(joining));
            }
            // And one leaves while they run: the owner of the most partitions once the group has settled.
            Map<String, Set<Integer>> assignment = awaitStableGroup();
            String leaving = assignment.entrySet().stream().max(Comparator.comparingInt(e -> e.getValue().size()))
                    .orElseThrow().getKey();
            List<Job> more = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) more.add(submit(idIn("scale-leave", p), 420, 0.9, 900 + p));
            await(v -> more.stream().allMatch(j -> v.streamed(j.id()) >= 30), "the last wave running");
            Instant leftAt = Instant.now();
            cluster.stop(leaving);
            live.remove(leaving);
            jobs.addAll(more);
            awaitFinished(jobs.stream().map(Job::id).toList());
            int handedToNewcomer = 0;
            int handedByLeaver = 0;
            for (Job job : jobs) {
                JobStatus done = verify(job);
                for (JobEvent e : done.history()) {
                    if (e.type() == JobEvent.Type.PREEMPTED && e.detail().startsWith("handed over")) {
                        if (e.at().isBefore(leftAt)) handedToNewcomer++;
                        else if (leaving.equals(e.worker())) handedByLeaver++;
                    }
                }
            }
            assertTrue(handedToNewcomer > 0, "no running job was moved when " + joining + " joined");
            assertTrue(handedByLeaver > 0, "no running job was moved when " + leaving + " left");
            startWorker();
        } catch (Throwable e) {
            failed = true;
            throw e;
        }
    }

    @Test
    @Order(3)
    void aWorkerKilledInTheMiddleOfSeveralJobsLosesNoneOfThem() throws Exception {
        try {
            Map<String, Set<Integer>> assignment = awaitStableGroup();
            // The victim: the owner of the most partitions, with two long jobs in each of them.
            String victim = assignment.entrySet().stream().max(Comparator.comparingInt(e -> e.getValue().size()))
                    .orElseThrow().getKey();
            List<Job> jobs = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) {
                jobs.add(submit(idIn("crash-a", p), 500, 0.9, 300 + p));
                jobs.add(submit(idIn("crash-b", p), 400, 0.7, 400 + p));
            }
            List<Job> victims = jobs.stream().filter(j -> assignment.get(victim).contains(partitionOf(j.id()))).toList();
            await(v -> victims.stream().allMatch(j -> v.streamed(j.id()) >= 50), "the victim's jobs running");
            freezeAndCatchUp(victim);
            List<Job> interrupted = victims.stream().filter(j -> runningOn(victim, j)).toList();
            assertTrue(interrupted.size() >= 2, "the victim " + victim + " was running " + interrupted.size() + " of its "
                    + victims.size() + " jobs when frozen");
            cluster.kill(victim);
            live.remove(victim);
            awaitFinished(jobs.stream().map(Job::id).toList());
            for (Job job : jobs) {
                JobStatus done = verify(job);
                if (interrupted.contains(job)) assertTakenOver(job, done, victim);
            }
            startWorker();
        } catch (Throwable e) {
            failed = true;
            throw e;
        }
    }

    @Test
    @Order(4)
    void killsAtRandomPointsNeverBreakAStream() throws Exception {
        try {
            Random random = new Random(20260101);
            int midJobKills = 0;
            List<Integer> points = new ArrayList<>();
            for (int cycle = 0; midJobKills < 10; cycle++) {
                assertTrue(cycle < 16, "only " + midJobKills + " of " + cycle + " kills fell inside their job");
                Map<String, Set<Integer>> assignment = awaitStableGroup();
                int partition = random.nextInt(PARTITIONS);
                Job job = submit(idIn("kill-" + cycle, partition), 300, cycle % 3 == 0 ? 0.0 : 0.9, 500 + cycle);
                Job neighbour = submit(idIn("kill-" + cycle + "-n", partition), 200, 0.9, 600 + cycle);
                String victim = ownerOf(assignment, partition);
                int point = 1 + random.nextInt(240);
                await(v -> v.streamed(job.id()) >= point, point + " tokens of " + job.id());
                freezeAndCatchUp(victim);
                boolean midJob = runningOn(victim, job);
                cluster.kill(victim);
                live.remove(victim);
                startWorker();
                awaitFinished(List.of(job.id(), neighbour.id()));
                JobStatus done = verify(job);
                verify(neighbour);
                if (midJob) {
                    assertTakenOver(job, done, victim);
                    points.add(point);
                    midJobKills++;
                }
            }
            System.out.println("kill points (tokens streamed before the kill, at least): " + points);
        } catch (Throwable e) {
            failed = true;
            throw e;
        }
    }

    @Test
    @Order(5)
    void aCorruptedOrMissingCheckpointIsDetectedAndTheJobRecomputed() throws Exception {
        try {
            Map<String, Set<Integer>> assignment = awaitStableGroup();
            int partition = 1;
            Job corrupted = submit(idIn("corrupt", partition), 300, 0.9, 71);
            Job missing = submit(idIn("missing", partition), 300, 0.9, 72);
            String victim = ownerOf(assignment, partition);
            await(v -> !v.manifests(corrupted.id()).isEmpty() && !v.manifests(missing.id()).isEmpty()
                    && v.streamed(corrupted.id()) >= 60, "checkpoints of both jobs");
            // Nothing more from the victim: no newer checkpoint can replace the damaged ones.
            freezeAndCatchUp(victim);
            assertTrue(runningOn(victim, corrupted) && runningOn(victim, missing), "both jobs still running when frozen");
            for (Path blob : blobs(corrupted.id())) {
                byte[] bytes = Files.readAllBytes(blob);
                bytes[bytes.length / 2] ^= 0x24;
                Files.write(blob, bytes);
            }
            for (Path blob : blobs(missing.id())) Files.delete(blob);
            cluster.kill(victim);
            live.remove(victim);
            awaitFinished(List.of(corrupted.id(), missing.id()));
            for (Job job : List.of(corrupted, missing)) {
                JobStatus done = verify(job);
                JobEvent recomputed = done.history().stream().filter(e -> e.type() == JobEvent.Type.RECOMPUTED).findFirst()
                        .orElseThrow(() -> new AssertionError(job.id() + " was not recomputed: " + done.history()));
                assertTrue(recomputed.detail().contains("checkpoint not usable"), recomputed.detail());
                assertFalse(types(done).contains(JobEvent.Type.RESUMED), job.id() + " " + done.history());
            }
            // Once a job ended its checkpoints are gone.
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (!(blobs(corrupted.id()).isEmpty() && blobs(missing.id()).isEmpty())) {
                assertTrue(System.nanoTime() < deadline, "checkpoints left after the jobs ended");
                Thread.sleep(200);
            }
        } catch (Throwable e) {
            failed = true;
            throw e;
        }
    }

    /** The blob files of a job's manifests that are still there. */
    private static List<Path> blobs(String jobId) {
        view.catchUp(TIMEOUT);
        List<Path> files = new ArrayList<>();
        for (CheckpointManifest m : view.manifests(jobId)) {
            Path file = Path.of(URI.create(m.uri()));
            if (Files.exists(file)) files.add(file);
        }
        return files;
    }
}
