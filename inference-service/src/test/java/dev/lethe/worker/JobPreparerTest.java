package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.scheduler.JobSpec;
import dev.lethe.engine.testutil.SharedFiles;
import dev.lethe.schemas.ChatMessage;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.KvPolicy;
import dev.lethe.schemas.Sampling;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class JobPreparerTest {
    private static Model model;
    private static JobPreparer preparer;

    @BeforeAll
    static void load() {
        model = Model.load(SharedFiles.storiesModel());
        preparer = new JobPreparer(model, "stories260K", PolicySpec.of("lethe"), RandomGenerator.of("L64X128MixRandom"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static JobRequest request(String prompt, Sampling sampling, KvPolicy policy, String modelName) {
        return new JobRequest("job-1", "acme", prompt, null, modelName, sampling, policy, 7, Instant.EPOCH);
    }

    private static String rejection(JobRequest request) {
        var e = assertThrows(JobRejectedException.class, () -> preparer.prepare(request));
        return e.code() + ": " + e.getMessage();
    }

    @Test
    void mapsPromptSamplingPolicyAndPriority() throws Exception {
        var sampling = new Sampling(50, 0.7, 0.9, 40, 0.05, 1234L, List.of("."));
        JobSpec spec = preparer.prepare(request("Once upon a time", sampling,
                new KvPolicy("streamingllm", Map.of("window", 32.0)), "stories260K"));
        assertArrayEquals(model.tokenizer().encode("Once upon a time", true, false), spec.prompt());
        assertEquals(0.7f, spec.sampling().temperature());
        assertEquals(0.9f, spec.sampling().topP());
        assertEquals(40, spec.sampling().topK());
        assertEquals(0.05f, spec.sampling().minP());
        assertEquals(1234L, spec.sampling().seed());
        assertEquals(50, spec.sampling().maxTokens());
        assertEquals(List.of("."), spec.sampling().stop());
        assertEquals(PolicySpec.of("streamingllm", "window", "32"), spec.kvPolicy());
        assertEquals(7, spec.priority());
    }

    @Test
    void theSchemasParameterNamesBecomeTheCacheLibrarys() throws Exception {
        JobSpec spec = preparer.prepare(request("Tim", Sampling.withMaxTokens(5),
                new KvPolicy("lethe", Map.of("sparse-ratio", 100.0, "recent-ratio", 0.25, "delta", 64.0)), null));
        assertEquals(PolicySpec.of("lethe", "sparse-ratio", "100", "recent-ratio", "0.25", "delta", "64"), spec.kvPolicy());
    }

    @Test
    void noPolicyMeansTheWorkersDefaultAndNoSeedMeansOneChosenHere() throws Exception {
        JobSpec a = preparer.prepare(request("Tim", Sampling.withMaxTokens(5), null, null));
        JobSpec b = preparer.prepare(request("Tim", Sampling.withMaxTokens(5), null, null));
        assertEquals(PolicySpec.of("lethe"), a.kvPolicy());
        assertTrue(a.sampling().seed() != b.sampling().seed(), "two jobs without a seed got the same one");
        assertTrue(a.sampling().seed() >= 0 && a.sampling().seed() < (1L << 53), "the seed must fit the schema's range");
    }

    @Test
    void requestsThisWorkerCannotRunAreRejectedWithACodeAndAReason() {
        assertEquals("MODEL_NOT_FOUND: this worker serves model 'stories260K', not 'llama-70b'",
                rejection(request("Tim", Sampling.withMaxTokens(5), null, "llama-70b")));
        int context = model.config().contextLength();
        String tooLong = rejection(request("Once upon a time ".repeat(context / 4 + 1), Sampling.withMaxTokens(5), null, null));
        assertTrue(tooLong.startsWith("PROMPT_TOO_LONG: the prompt is ") && tooLong.endsWith("context length is " + context), tooLong);
        String policy = rejection(request("Tim", Sampling.withMaxTokens(5), new KvPolicy("lethe", Map.of("gama", 0.9)), null));
        assertTrue(policy.startsWith("INVALID_KV_POLICY: KV policy lethe: unknown parameter 'gama'"), policy);
        String unknown = rejection(request("Tim", Sampling.withMaxTokens(5), new KvPolicy("lru", Map.of()), null));
        assertTrue(unknown.startsWith("INVALID_KV_POLICY: unknown KV policy 'lru'"), unknown);
        var chat = new JobRequest("job-2", "acme", null, List.of(new ChatMessage(ChatMessage.Role.USER, "hi")), null,
                Sampling.withMaxTokens(5), null, 5, Instant.EPOCH);
        String noChat = rejection(chat);
        assertTrue(noChat.startsWith("CHAT_NOT_SUPPORTED: model 'stories260K' cannot run a chat request"), noChat);
    }
}
