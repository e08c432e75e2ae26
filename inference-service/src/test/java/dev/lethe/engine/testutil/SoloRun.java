package dev.lethe.engine.testutil;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.generate.FinishReason;
import dev.lethe.engine.generate.Generation;
import dev.lethe.engine.generate.TokenListener;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.sampler.SamplingParams;
import java.util.ArrayList;
import java.util.List;

/** One generation run alone, straight on the engine as the CLI runs it: the reference for scheduled and served jobs. */
public final class SoloRun {
    private SoloRun() {}

    /** The generated token ids, the generated text (with any held-back text at the end) and why it stopped. */
    public record Result(List<Integer> ids, String text, FinishReason finishReason) {}

    public static Result run(Model model, int[] prompt, SamplingParams sampling, PolicySpec policy) {
        OffHeapKvCache cache = KvCaches.create(model.kvLayout(), policy);
        try (Sequence sequence = model.newSequence(cache)) {
            cache.declarePromptLength(prompt.length);
            Generation generation = new Generation(sequence, model.tokenizer(), new Sampler(sampling));
            generation.prefill(prompt);
            List<Integer> ids = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            TokenListener listener = new TokenListener() {
                @Override
                public void onToken(int seq, int tokenId, String delta) {
                    ids.add(tokenId);
                    text.append(delta);
                }

                @Override
                public void onFinish(FinishReason reason, String trailingText) {
                    text.append(trailingText);
                }
            };
            while (generation.step(listener)) {
                // one token per step
            }
            return new Result(ids, text.toString(), generation.finishReason());
        }
    }
}
