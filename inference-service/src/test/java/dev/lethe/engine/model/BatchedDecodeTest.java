package dev.lethe.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.testutil.SharedFiles;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Sequences decoded together in one batched pass produce what each produces alone. */
class BatchedDecodeTest {

    @Test
    void batchedGreedyDecodingEqualsSoloDecodingForEverySequence() {
        String[] prompts = {"Once upon a time", "Tom had a red ball", "The sun was hot", "Lily and Ben went to the park"};
        int steps = 300;
        try (Model model = Model.load(SharedFiles.storiesModel())) {
            int[][] solo = new int[prompts.length][steps];
            float[][] soloLast = new float[prompts.length][];
            for (int p = 0; p < prompts.length; p++) {
                try (Sequence s = model.newSequence(KvCaches.create(model.kvLayout(), PolicySpec.of("lethe", "delta", "32", "sparse-ratio", "20")))) {
                    float[] logits = s.prefill(model.tokenizer().encode(prompts[p], true, false));
                    for (int i = 0; i < steps; i++) {
                        solo[p][i] = Sampler.argmax(logits);
                        logits = s.forward(solo[p][i]);
                    }
                    soloLast[p] = logits.clone();
                }
            }
            List<Sequence> batch = new ArrayList<>();
            int[][] batched = new int[prompts.length][steps];
            ForwardPass pass = new ForwardPass(model, prompts.length);
            try {
                for (String prompt : prompts) {
                    Sequence s = model.newSequence(KvCaches.create(model.kvLayout(), PolicySpec.of("lethe", "delta", "32", "sparse-ratio", "20")));
                    s.prefill(model.tokenizer().encode(prompt, true, false));
                    batch.add(s);
                }
                int[] next = new int[prompts.length];
                for (int i = 0; i < steps; i++) {
                    for (int p = 0; p < prompts.length; p++) next[p] = batched[p][i] = Sampler.argmax(batch.get(p).logits());
                    pass.decode(batch, next);
                }
                for (int p = 0; p < prompts.length; p++) {
                    assertArrayEquals(solo[p], batched[p], "sequence " + p);
                    float worst = 0;
                    for (int v = 0; v < soloLast[p].length; v++) worst = Math.max(worst, Math.abs(soloLast[p][v] - batch.get(p).logits()[v]));
                    assertTrue(worst < 1e-4, "sequence " + p + ": logits differ by " + worst);
                }
            } finally {
                batch.forEach(Sequence::close);
            }
        }
    }
}
