package dev.lethe.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.checkpoint.CheckpointCodec;
import dev.lethe.cache.checkpoint.CheckpointMismatchException;
import dev.lethe.cache.checkpoint.ModelIdentity;
import dev.lethe.cache.checkpoint.RestoredCheckpoint;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.testutil.SharedFiles;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A generation checkpointed mid-way, thrown away and restored from the bytes continues exactly as the
 * uninterrupted one: same tokens, same text, with Lethe pruning before and after the checkpoint.
 */
class CheckpointResumeTest {
    private static final int MAX_TOKENS = 600;
    private static final PolicySpec LETHE = PolicySpec.of("lethe", "delta", "48", "sparse-ratio", "30");
    private static final TokenListener IGNORE = (seq, token, text) -> {};
    private static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(SharedFiles.storiesModel());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static Generation start(SamplingParams params) {
        int[] prompt = model.tokenizer().encode("Once upon a time", true, false);
        Generation g = new Generation(model.newSequence(KvCaches.create(model.kvLayout(), LETHE)), model.tokenizer(), new Sampler(params));
        g.prefill(prompt);
        return g;
    }

    private static byte[] checkpoint(Generation g) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CheckpointCodec.write(bytes, model.identity(), (OffHeapKvCache) g.sequence().cache(), g.snapshot());
        return bytes.toByteArray();
    }

    @ParameterizedTest(name = "temperature {0}, checkpoint after {1} tokens")
    @CsvSource({"0, 0", "0, 333", "0.9, 1", "0.9, 250", "1.2, 480"})
    void generationAfterRestoreEqualsTheUninterruptedOne(float temperature, int checkpointAfter) throws IOException {
        SamplingParams params = new SamplingParams(temperature, 0, 0.95f, 0f, 1234, MAX_TOKENS, List.of());
        Generation reference = start(params);
        while (reference.step(IGNORE)) { }
        reference.sequence().close();

        Generation first = start(params);
        for (int i = 0; i < checkpointAfter; i++) assertTrue(first.step(IGNORE), "the run ended before the checkpoint");
        byte[] bytes = checkpoint(first);
        String textBefore = first.text();
        long roundsBefore = ((OffHeapKvCache) first.sequence().cache()).stats().totalRounds();
        first.sequence().close();

        RestoredCheckpoint restored = CheckpointCodec.read(new ByteArrayInputStream(bytes), model.identity(),
                KvBlockPool.unbounded(model.kvLayout()));
        int position = restored.sequence().promptTokens().length + restored.sequence().generatedTokens().length - 1;
        Sequence sequence = model.resumeSequence(restored.cache(), position);
        Generation resumed = Generation.resume(sequence, model.tokenizer(), params, restored.sequence());
        assertEquals(textBefore, resumed.text());
        StringBuilder streamed = new StringBuilder(textBefore);
        TokenListener collect = new TokenListener() {
            @Override
            public void onToken(int seq, int token, String text) {
                streamed.append(text);
            }

            @Override
            public void onFinish(FinishReason reason, String trailing) {
                streamed.append(trailing);
            }
        };
        while (resumed.step(collect)) { }
        long roundsAfter = ((OffHeapKvCache) sequence.cache()).stats().totalRounds();
        sequence.close();

        assertArrayEquals(reference.generatedTokens(), resumed.generatedTokens());
        assertEquals(reference.text(), resumed.text());
        assertEquals(reference.text(), streamed.toString());
        assertEquals(reference.finishReason(), resumed.finishReason());
        assertTrue(roundsAfter > roundsBefore, "no pruning round ran after the restore (" + roundsBefore + " -> " + roundsAfter + ")");
    }

    @Test
    void aCheckpointOfAnotherModelIsRefusedNamingTheField() throws IOException {
        Generation g = start(SamplingParams.greedy(50));
        for (int i = 0; i < 10; i++) g.step(IGNORE);
        byte[] bytes = checkpoint(g);
        g.sequence().close();
        ModelIdentity other = new ModelIdentity("0".repeat(64), model.identity().tokenizerHash(), model.kvLayout());
        CheckpointMismatchException e = assertThrows(CheckpointMismatchException.class,
                () -> CheckpointCodec.read(new ByteArrayInputStream(bytes), other, KvBlockPool.unbounded(model.kvLayout())));
        assertTrue(e.getMessage().contains("model"), e.getMessage());
    }
}
