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
import dev.lethe.schemas.DecodeResult;
import dev.lethe.schemas.Event;
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
import org.apache.kafka.clients.consumer.ConsumerRecord;
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
    private static final Duration TIMEOUT = Duration.ofSeconds(90);
    private static final EventCodec CODEC = new EventCodec();

    private static LocalCluster cluster;
    private static KafkaProducer<byte[], byte[]> producer;
    private static TopicReader reader;
    private static Model model;
    private static final List<String> live = new ArrayList<>();
    private static int nextWorker = 1;
    private static boolean failed;

    @BeforeAll
    static void startCluster() throws Exception {
        model = Model.load(Path.of(System.getProperty("lethe.shared.dir"), "models", "stories260K.gguf"));
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
        cluster.awaitMembers(Set.copyOf(live), Duration.ofSeconds(120));
        reader = new TopicReader(cluster.bootstrap(), Topics.TOKENS, Topics.JOBS, Topics.CHECKPOINTS);
    }

    @AfterAll
    static void stopCluster() {
        if (reader != null) reader.close();
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

    // ---- jobs

    private record Job(String id, Sampling sampling) {
        SamplingParams params() {
            return new SamplingParams((float) sampling.temperature(), 0, (float) sampling.topP(), 0f, sampling.seed(),
                    sampling.maxTokens(), List.of());
        }
    }

    private static Job submit(String id, int maxTokens, double temperature, long seed) throws Exception {
        Job job = new Job(id, new Sampling(maxTokens, temperature, 0.95, 0, 0.0, seed, List.of()));
        JobRequest request = new JobRequest(id, "acme", PROMPT, null, null, job.sampling(), REQUEST_POLICY, 5, Instant.now());
        producer.send(new ProducerRecord<>(Topics.REQUESTS, id.getBytes(StandardCharsets.UTF_8), CODEC.encode(request))).get();
        return job;
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

    // ---- reading the topics

    private static List<ConsumerRecord<byte[], byte[]>> await(Predicate<List<ConsumerRecord<byte[], byte[]>>> done, String what) {
        return reader.awaitUntil(done, TIMEOUT, what);
    }

    private static List<ConsumerRecord<byte[], byte[]>> now() {
        return reader.catchUp(TIMEOUT);
    }

    private static <T extends Event> List<T> events(List<ConsumerRecord<byte[], byte[]>> records, String topic, String jobId, Class<T> type) {
        List<T> out = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            if (!r.topic().equals(topic) || r.value() == null || !jobId.equals(new String(r.key(), StandardCharsets.UTF_8))) continue;
            if (CODEC.decode(r.value(), type) instanceof DecodeResult.Valid<T>(T event)) out.add(event);
        }
        return out;
    }

    private static JobStatus status(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        List<JobStatus> all = events(records, Topics.JOBS, jobId, JobStatus.class);
        return all.isEmpty() ? null : all.getLast();
    }

    private static int streamed(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        return events(records, Topics.TOKENS, jobId, TokenChunk.class).stream().mapToInt(c -> (int) c.toSeq() + 1).max().orElse(0);
    }

    private static boolean finished(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        JobStatus s = status(records, jobId);
        return s != null && s.state().isFinal()
                && events(records, Topics.TOKENS, jobId, TokenChunk.class).stream().anyMatch(c -> c.finishReason() != null);
    }

    private static void awaitFinished(List<String> jobIds) {
        await(r -> jobIds.stream().allMatch(id -> finished(r, id)), "jobs " + jobIds + " to finish");
    }

    // ---- checking streams

    /**
     * The job's stream as a client gets it: every seq exactly once, contiguous from 0, the finish reason on the
     * last chunk only; its tokens and text those of the uninterrupted run, or after a recompute what the engine
     * makes of exactly the tokens delivered before it. Returns the job's final state.
     */
    private static JobStatus verify(Job job) {
        List<ConsumerRecord<byte[], byte[]>> records = now();
        List<TokenChunk> chunks = new ArrayList<>(events(records, Topics.TOKENS, job.id(), TokenChunk.class));
        chunks.sort(Comparator.comparingLong(TokenChunk::fromSeq));
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
        JobStatus status = status(records, job.id());
        assertEquals(JobState.COMPLETED, status.state(), job.id() + ": " + status.history());
        assertEquals(ids.size(), status.completionTokens(), job.id());

        int[] prompt = model.tokenizer().encode(PROMPT, true, false);
        List<JobEvent> recomputes = status.history().stream().filter(e -> e.type() == JobEvent.Type.RECOMPUTED).toList();
        List<Integer> expected;
        if (recomputes.isEmpty()) {
            expected = SoloRun.run(model, prompt, job.params(), POLICY).ids();
        } else {
            // After the last recompute the job is what the engine makes of exactly what was delivered before it.
            int delivered = Integer.parseInt(recomputes.getLast().detail().replaceAll("^delivered=(\\d+).*$", "$1"));
            expected = recompute(job, prompt, ids.subList(0, delivered));
            if (recomputes.size() == 1) {
                assertEquals(SoloRun.run(model, prompt, job.params(), POLICY).ids().subList(0, delivered),
                        ids.subList(0, delivered), job.id() + ": before its recompute");
            }
        }
        assertEquals(expected, ids, job.id() + ": tokens, history " + status.history());
        assertEquals(detokenize(prompt, ids), text.toString(), job.id() + ": text");
        assertTrue(status.history().stream().noneMatch(e -> e.type() == JobEvent.Type.RESUME_INEXACT), job.id());
        return status;
    }

    private static List<Integer> recompute(Job job, int[] prompt, List<Integer> delivered) {
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

    private static String detokenize(int[] prompt, List<Integer> ids) {
        Detokenizer d = new Detokenizer(model.tokenizer());
        for (int t : prompt) d.push(t);
        StringBuilder text = new StringBuilder();
        for (int id : ids) text.append(d.push(id));
        return text.append(d.flush()).toString();
    }

    private static List<JobEvent.Type> types(JobStatus status) {
        return status.history().stream().map(JobEvent::type).toList();
    }

    private static String owner(List<ConsumerRecord<byte[], byte[]>> records, String jobId) {
        JobStatus s = status(records, jobId);
        return s == null ? null : s.worker();
    }

    // ---- the tests

    @Test
    @Order(1)
    void aJobPreemptedOnOneWorkerResumesOnAnotherAndStreamsExactlyTheUninterruptedRun() throws Exception {
        try {
            Job job = submit("graceful", 400, 0.8, 11);
            List<ConsumerRecord<byte[], byte[]>> records = await(r -> streamed(r, job.id()) >= 60, "60 tokens of " + job.id());
            String first = owner(records, job.id());
            control(job.id(), Control.Command.PREEMPT);
            await(r -> status(r, job.id()).state() == JobState.PREEMPTED, job.id() + " PREEMPTED");
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
            events(now(), Topics.TOKENS, job.id(), TokenChunk.class).forEach(c -> attempts.add(c.attempt()));
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
            // Waves of jobs in every partition until the new worker is in the group, so some run when it joins.
            int wave = 0;
            while (!cluster.assignment().containsKey(joining)) {
                for (int p = 0; p < PARTITIONS; p++) jobs.add(submit(idIn("scale-" + wave, p), 420, 0.9, 100 + 10L * wave + p));
                wave++;
                Thread.sleep(2500);
                assertTrue(wave < 30, "worker " + joining + " never joined:\n" + cluster.tail(joining));
            }
            cluster.awaitMembers(Set.copyOf(live), TIMEOUT);
            // And one leaves while they run.
            List<Job> more = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) more.add(submit(idIn("scale-leave", p), 420, 0.9, 900 + p));
            List<ConsumerRecord<byte[], byte[]>> running = await(r -> more.stream().allMatch(j -> streamed(r, j.id()) >= 30),
                    "the last wave running");
            // The worker running the most of them now (the assignment read before submitting could be stale).
            Map<String, Long> byWorker = more.stream().collect(java.util.stream.Collectors.groupingBy(
                    j -> owner(running, j.id()), java.util.stream.Collectors.counting()));
            String leaving = byWorker.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
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
            cluster.awaitMembers(Set.copyOf(live), TIMEOUT);
        } catch (Throwable e) {
            failed = true;
            throw e;
        }
    }

    @Test
    @Order(3)
    void aWorkerKilledInTheMiddleOfSeveralJobsLosesNoneOfThem() throws Exception {
        try {
            List<Job> jobs = new ArrayList<>();
            for (int p = 0; p < PARTITIONS; p++) {
                jobs.add(submit(idIn("crash-a", p), 380, 0.9, 300 + p));
                jobs.add(submit(idIn("crash-b", p), 300, 0.0, 400 + p));
            }
            List<ConsumerRecord<byte[], byte[]>> running = await(r -> jobs.stream().allMatch(j -> streamed(r, j.id()) >= 50),
                    "every job running");
            // The worker running the most of them now.
            Map<String, Long> byWorker = jobs.stream().collect(java.util.stream.Collectors.groupingBy(
                    j -> owner(running, j.id()), java.util.stream.Collectors.counting()));
            String victim = byWorker.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
            Set<String> victimsJobs = new HashSet<>();
            for (Job j : jobs) if (victim.equals(owner(running, j.id()))) victimsJobs.add(j.id());
            cluster.kill(victim);
            live.remove(victim);
            // Jobs the victim finished between the snapshot and the kill were not running when it died.
            List<ConsumerRecord<byte[], byte[]>> atKill = await(r -> true, "the records at the kill");
            victimsJobs.removeIf(id -> {
                JobStatus s = status(atKill, id);
                return s != null && s.state().isFinal();
            });
            awaitFinished(jobs.stream().map(Job::id).toList());
            int takenOver = 0;
            for (Job job : jobs) {
                JobStatus done = verify(job);
                if (victimsJobs.contains(job.id())) {
                    assertNotEquals(victim, done.worker(), job.id());
                    assertTrue(done.history().stream().anyMatch(e -> (e.type() == JobEvent.Type.RESUMED
                            || e.type() == JobEvent.Type.RECOMPUTED) && !victim.equals(e.worker())), job.id() + " " + done.history());
                    takenOver++;
                }
            }
            assertTrue(takenOver >= 2, "jobs of the killed worker taken over: " + takenOver + " of " + byWorker);
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
            for (int cycle = 0; cycle < 10; cycle++) {
                awaitServing(2);
                int partition = random.nextInt(PARTITIONS);
                Job job = submit(idIn("kill-" + cycle, partition), 260, cycle % 3 == 0 ? 0.0 : 0.9, 500 + cycle);
                Job neighbour = submit(idIn("kill-" + cycle + "-n", partition), 200, 0.9, 600 + cycle);
                int point = 1 + random.nextInt(200);
                List<ConsumerRecord<byte[], byte[]>> records = await(r -> streamed(r, job.id()) >= point,
                        point + " tokens of " + job.id());
                String victim = owner(records, job.id());
                cluster.kill(victim);
                live.remove(victim);
                startWorker();
                awaitFinished(List.of(job.id(), neighbour.id()));
                JobStatus done = verify(job);
                verify(neighbour);
                assertNotEquals(victim, done.worker(), "cycle " + cycle + ": killed at token " + point);
            }
        } catch (Throwable e) {
            failed = true;
            throw e;
        }
    }

    @Test
    @Order(5)
    void aCorruptedOrMissingCheckpointIsDetectedAndTheJobRecomputed() throws Exception {
        try {
            cluster.awaitMembers(Set.copyOf(live), TIMEOUT);
            int partition = 1;
            Job corrupted = submit(idIn("corrupt", partition), 300, 0.9, 71);
            Job missing = submit(idIn("missing", partition), 300, 0.9, 72);
            List<ConsumerRecord<byte[], byte[]>> records = await(r -> !events(r, Topics.CHECKPOINTS, corrupted.id(), CheckpointManifest.class).isEmpty()
                    && !events(r, Topics.CHECKPOINTS, missing.id(), CheckpointManifest.class).isEmpty()
                    && streamed(r, corrupted.id()) >= 60, "checkpoints of both jobs");
            String victim = owner(records, corrupted.id());
            cluster.freeze(victim); // nothing more from it: no newer checkpoint can replace the damaged ones
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

    /** Waits until at least {@code members} live workers own all the partitions (others may still be starting). */
    private static void awaitServing(int members) throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (true) {
            Map<String, Set<Integer>> owners = cluster.assignment();
            boolean ok = owners.size() >= members && live.containsAll(owners.keySet())
                    && owners.values().stream().mapToInt(Set::size).sum() == PARTITIONS;
            if (ok) return;
            assertTrue(System.nanoTime() < deadline, "workers " + owners + " do not serve every partition");
            Thread.sleep(250);
        }
    }

    /** The blob files of a job's manifests that are still there. */
    private static List<Path> blobs(String jobId) {
        List<Path> files = new ArrayList<>();
        for (CheckpointManifest m : events(now(), Topics.CHECKPOINTS, jobId, CheckpointManifest.class)) {
            Path file = Path.of(URI.create(m.uri()));
            if (Files.exists(file)) files.add(file);
        }
        return files;
    }
}
