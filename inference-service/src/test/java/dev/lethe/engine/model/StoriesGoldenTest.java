package dev.lethe.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.testutil.SharedFiles;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/** stories260K against outputs of independent implementations (llama2.c run.c, a float64 reference). */
class StoriesGoldenTest {
    private static final double LOGIT_TOLERANCE = 1e-4;
    private static Model model;
    private static JsonNode prompts;
    private static JsonNode greedy;

    @BeforeAll
    static void load() throws IOException {
        model = Model.load(SharedFiles.storiesModel());
        ObjectMapper json = new ObjectMapper();
        prompts = json.readTree(SharedFiles.golden("stories260K.runc-prompts-golden.json").toFile());
        greedy = json.readTree(SharedFiles.golden("stories260K.greedy-golden.json").toFile());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void promptTokenIdsEqualTheReferenceEncoder() {
        for (JsonNode c : prompts.get("cases")) {
            int[] expected = ints(c.get("ids"));
            assertArrayEquals(expected, model.tokenizer().encode(c.get("prompt").asString(), true, false),
                    "ids of prompt '" + c.get("prompt").asString() + "'");
        }
    }

    @Test
    void logitsAfterEachPromptMatchRunC() {
        for (JsonNode c : prompts.get("cases")) {
            try (Sequence s = model.newSequence(KvCaches.full(model.kvLayout()))) {
                float[] logits = s.prefill(ints(c.get("ids")));
                assertClose(doubles(c.get("last_logits")), logits, "prompt '" + c.get("prompt").asString() + "'");
            }
        }
    }

    @Test
    void greedyDecodingFromBosMatchesTheReferenceForTheFirst128Steps() {
        int[] expected = ints(greedy.get("ids"));
        JsonNode firstLogits = greedy.get("logits_first4_positions");
        try (Sequence s = model.newSequence(KvCaches.full(model.kvLayout()))) {
            int token = expected[0];
            for (int step = 0; step < 128; step++) {
                float[] logits = s.forward(token);
                if (step < firstLogits.size()) assertClose(doubles(firstLogits.get(step)), logits, "position " + step);
                token = Sampler.argmax(logits);
                assertEquals(expected[step + 1], token, "greedy token at step " + step);
            }
        }
    }

    private static void assertClose(double[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": vocabulary size");
        double worst = 0;
        for (int i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        assertTrue(worst <= LOGIT_TOLERANCE, what + ": max |logit difference| " + worst + " > " + LOGIT_TOLERANCE);
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    private static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asDouble();
        return out;
    }
}
