package dev.lethe.engine.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.engine.model.ForwardPass;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testutil.SharedFiles;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Generations stepped together (continuous batching) stream exactly what each streams alone. */
class BatchedGenerationTest {

    @Test
    void jobsOfDifferentLengthsSeedsAndStopsMatchTheirSoloRuns() {
        try (Model model = Model.load(SharedFiles.storiesModel())) {
            List<SamplingParams> params = List.of(
                    SamplingParams.greedy(120),
                    new SamplingParams(0.9f, 40, 0.95f, 0f, 7, 200, List.of()),
                    new SamplingParams(1.0f, 0, 1f, 0.05f, 8, 60, List.of()),
                    new SamplingParams(0.7f, 0, 0.9f, 0f, 9, 300, List.of(" the ")));
            String[] prompts = {"Once upon a time", "Tom", "The dog", "Sue liked"};
            List<String> solo = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                Generation g = new Generation(model.newSequence(KvCaches.create(model.kvLayout(), dev.lethe.cache.policy.PolicySpec.of("lethe"))),
                        model.tokenizer(), new Sampler(params.get(i)));
                g.prefill(model.tokenizer().encode(prompts[i], true, false));
                while (g.step((s, t, x) -> {})) { }
                solo.add(g.text());
                g.sequence().close();
            }
            List<Generation> batch = new ArrayList<>();
            List<StringBuilder> streamed = new ArrayList<>();
            List<TokenListener> listeners = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                Generation g = new Generation(model.newSequence(KvCaches.create(model.kvLayout(), dev.lethe.cache.policy.PolicySpec.of("lethe"))),
                        model.tokenizer(), new Sampler(params.get(i)));
                g.prefill(model.tokenizer().encode(prompts[i], true, false));
                batch.add(g);
                StringBuilder sb = new StringBuilder();
                streamed.add(sb);
                listeners.add(new TokenListener() {
                    @Override
                    public void onToken(int seq, int tokenId, String text) {
                        sb.append(text);
                    }

                    @Override
                    public void onFinish(FinishReason reason, String trailingText) {
                        sb.append(trailingText);
                    }
                });
            }
            ForwardPass pass = new ForwardPass(model, 3); // fewer rows than jobs: the step splits the batch
            int steps = 0;
            while (batch.stream().anyMatch(g -> !g.finished())) {
                Generation.stepAll(batch, listeners, pass);
                steps++;
            }
            for (int i = 0; i < prompts.length; i++) {
                assertEquals(solo.get(i), batch.get(i).text(), "job " + i);
                assertEquals(solo.get(i), streamed.get(i).toString(), "streamed text of job " + i);
                batch.get(i).sequence().close();
            }
            assertTrue(steps >= 120, "steps " + steps);
        }
    }
}
