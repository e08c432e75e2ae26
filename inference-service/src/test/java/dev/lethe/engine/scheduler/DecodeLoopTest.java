package dev.lethe.engine.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testutil.SharedFiles;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class DecodeLoopTest {

    @Test
    void whileHeldBackNoStepRunsAndAfterwardsTheJobFinishes() throws Exception {
        try (Model model = Model.load(SharedFiles.storiesModel())) {
            var scheduler = new ContinuousBatchScheduler(model, policy -> KvCaches.create(model.kvLayout(), policy),
                    new SchedulerConfig(2, 2), () -> {});
            AtomicBoolean held = new AtomicBoolean(true);
            AtomicInteger tokens = new AtomicInteger();
            AtomicInteger started = new AtomicInteger();
            CompletableFuture<JobOutcome> finished = new CompletableFuture<>();
            try (var loop = new DecodeLoop(scheduler, "decode-test", Duration.ZERO, held::get)) {
                loop.start();
                int[] prompt = model.tokenizer().encode("Once upon a time", true, false);
                scheduler.submit(new JobSpec("held", prompt, SamplingParams.greedy(40), PolicySpec.of("full"), 5), new JobListener() {
                    @Override
                    public void onStarted(int promptTokens) {
                        started.incrementAndGet();
                    }

                    @Override
                    public void onToken(int seq, int tokenId, String text) {
                        tokens.incrementAndGet();
                    }

                    @Override
                    public void onFinished(JobOutcome outcome) {
                        finished.complete(outcome);
                    }
                });
                // Long enough for the loop to have run the whole job many times over if it were not held.
                Thread.sleep(500);
                assertEquals(0, started.get() + tokens.get(), "the loop stepped while held back");

                held.set(false);
                JobOutcome outcome = finished.get(60, TimeUnit.SECONDS);
                assertNotNull(outcome);
                assertEquals(40, tokens.get());
                assertTrue(loop.alive());
            }
        }
    }
}
