package dev.lethe.engine.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The committed trace model (models/lethe-trace.gguf) against what PyTorch computed for it on the training
 * machine (models/lethe-trace.reference.json), its tokenizer against the training tool's one-id-per-character
 * rule, and TaskBench's reading, scoring and sweeps.
 */
class TaskBenchTest {
    private static Model model;
    private static JsonNode reference;
    private static List<TaskBench.Problem> heldOut;

    @BeforeAll
    static void load() throws IOException {
        model = Model.load(repoFile("models/lethe-trace.gguf"));
        reference = new ObjectMapper().readTree(repoFile("models/lethe-trace.reference.json").toFile());
        heldOut = TaskBench.readProblems(repoFile("training/data/trace-test.txt"), 0, Integer.MAX_VALUE);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** A file of the repository, from the module folder (where surefire runs) or the repository root. */
    static Path repoFile(String name) {
        Path fromModule = Path.of("..").resolve(name);
        return Files.exists(fromModule) ? fromModule : Path.of(name);
    }

    @Test
    void everyHeldOutProblemEncodesToOneTokenPerCharacterAsInTraining() {
        assertEquals(300, heldOut.size());
        for (TaskBench.Problem p : heldOut) {
            String text = p.prompt() + p.solution();
            int[] expected = new int[text.length() + 1];
            expected[0] = 1; // <s>
            for (int i = 0; i < text.length(); i++) expected[i + 1] = trainingId(text.charAt(i));
            assertArrayEquals(expected, model.tokenizer().encode(text, true, false));
            assertEquals(text, model.tokenizer().decode(java.util.Arrays.copyOfRange(expected, 1, expected.length)));
        }
    }

    /** training/charvocab.py: 3 specials, 256 byte tokens, then "▁" (space) and '!'..'~'; newline is byte 0x0A. */
    private static int trainingId(char c) {
        if (c == ' ') return 259;
        if (c >= 0x21 && c <= 0x7E) return 260 + (c - 0x21);
        return 3 + c;
    }

    @Test
    void javaEngineReproducesPyTorchLogitsAndGreedyOutput() {
        int[] promptIds = ints(reference.get("prompt_ids"));
        assertArrayEquals(promptIds, model.tokenizer().encode(reference.get("prompt").asString(), true, false));
        int[] expected = ints(reference.get("greedy_ids"));
        JsonNode firstLogits = reference.get("first_logits");
        try (Sequence s = model.newSequence(KvCaches.full(model.kvLayout()))) {
            float[] logits = s.prefill(promptIds);
            for (int i = 0; i < firstLogits.size(); i++) {
                double want = firstLogits.get(i).asDouble();
                assertEquals(want, logits[i], 2e-3 + 2e-3 * Math.abs(want), "logit " + i + " after the prompt");
            }
            for (int i = 0; i < expected.length; i++) {
                int token = Sampler.argmax(logits);
                assertEquals(expected[i], token, "greedy token " + i);
                if (i + 1 < expected.length) logits = s.forward(token);
            }
        }
        assertEquals(reference.get("greedy_text").asString(), model.tokenizer().decode(expected));
    }

    @Test
    void fullCacheSolvesAHeldOutProblemExactly() {
        TaskBench.Problem problem = heldOut.get(reference.get("index").asInt());
        TaskBench.Outcome outcome = new TaskBench(model, List.of(problem)).solve(problem, PolicySpec.of("full"));
        assertEquals(problem.solution(), outcome.text());
        assertTrue(outcome.correct());
        assertTrue(outcome.computedCorrect());
        assertTrue(outcome.exactSolution());
        assertEquals(1.0, outcome.retainedFractionSum() / outcome.retainedSamples(), 1e-12);
    }

    @Test
    void rowsDoNotDependOnTheThreadCount() {
        List<TaskBench.Problem> shortest = heldOut.stream()
                .sorted(java.util.Comparator.comparingInt(p -> p.solution().length())).limit(3).toList();
        List<PolicySpec> specs = List.of(PolicySpec.of("full"), PolicySpec.of("lethe", "delta", "16", "sparse-ratio", "2"));
        List<String> labels = List.of("full", "lethe");
        TaskBench bench = new TaskBench(model, shortest);
        List<TaskBench.Row> one = bench.run(labels, specs, 1, new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        List<TaskBench.Row> three = bench.run(labels, specs, 3, new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        for (int i = 0; i < specs.size(); i++) {
            TaskBench.Row a = one.get(i), b = three.get(i);
            assertEquals(a.correct(), b.correct(), labels.get(i));
            assertEquals(a.computedCorrect(), b.computedCorrect(), labels.get(i));
            assertEquals(a.exactSolutions(), b.exactSolutions(), labels.get(i));
            assertEquals(a.generatedTokens(), b.generatedTokens(), labels.get(i));
            assertEquals(a.meanRetained(), b.meanRetained(), 0.0, labels.get(i));
        }
        assertTrue(one.get(1).meanRetained() < 1.0, "the Lethe setting pruned: " + one.get(1).meanRetained());
    }

    @Test
    void readsOnlyProblemsWithLongSolutionsUpToTheLimit() throws IOException {
        List<TaskBench.Problem> longOnes = TaskBench.readProblems(repoFile("training/data/trace-test.txt"), 1000, 5);
        assertEquals(5, longOnes.size());
        for (TaskBench.Problem p : longOnes) {
            assertTrue(p.solution().length() > 1000);
            assertTrue(p.solution().endsWith(p.answer() + "\n"));
        }
    }

    @Test
    void malformedProblemFilesAreRejectedWithTheLine(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("bad.txt");
        Files.writeString(file, "### prompt\na=01\n### solution\n#1\n### end\n");
        var e = assertThrows(IllegalArgumentException.class, () -> TaskBench.readProblems(file, 0, 10));
        assertTrue(e.getMessage().contains("line 5") && e.getMessage().contains("answer"), e.getMessage());
        Files.writeString(file, "a=01\n");
        e = assertThrows(IllegalArgumentException.class, () -> TaskBench.readProblems(file, 0, 10));
        assertTrue(e.getMessage().contains("line 1"), e.getMessage());
    }

    @Test
    void computedScoreChecksOnlyTheRegistersTheLoopAssigns() {
        var p = new TaskBench.Problem("a=01\nb=02\nc=03\nrepeat 2 {\nb:=a+b\n}\n", "#2\nb=01+02=03\n#1\nb=01+03=04\nanswer a=01 b=04 c=03\n",
                "answer a=01 b=04 c=03");
        assertTrue(TaskBench.assignedRegistersMatch(p, "answer a=01 b=04 c=03"));
        assertTrue(TaskBench.assignedRegistersMatch(p, "answer a=01 b=04"));
        assertTrue(TaskBench.assignedRegistersMatch(p, "answer a=07 b=04 c=99"));
        assertFalse(TaskBench.assignedRegistersMatch(p, "answer a=01 b=05 c=03"));
        assertFalse(TaskBench.assignedRegistersMatch(p, "answer a=01 c=03"));
        assertFalse(TaskBench.assignedRegistersMatch(p, null));
    }

    @Test
    void answerIsTheLastAnswerLine() {
        assertEquals("answer a=01", TaskBench.answerOf("#1\nanswer a=00\na=01\nanswer a=01\n"));
        assertNull(TaskBench.answerOf("#1\na=01+02=03\n"));
        assertNull(TaskBench.answerOf(""));
    }

    @Test
    void sweepHasFullCacheLetheGridAndEveryBudgetOfEachBaseline() {
        Map<String, PolicySpec> s = TaskBench.settings(List.of("lethe", "h2o", "streamingllm"), List.of("0.2", "0.5"),
                List.of("20", "5"), List.of("0.3", "0.2"), List.of("0.95"), 64, null);
        assertEquals(1 + 1 + 4 + 2 + 2, s.size());
        assertEquals(PolicySpec.of("full"), s.get("full"));
        assertEquals(PolicySpec.of("lethe", "sparse-ratio", "5", "delta", "64", "recent-ratio", "0.2", "gamma", "0.95"),
                s.get("lethe τ=5 Δ=64 r=0.2 γ=0.95"));
        assertEquals(PolicySpec.of("h2o", "budget-ratio", "0.5", "grace", "64"), s.get("h2o budget=0.5"));
        assertFalse(s.containsKey("tova budget=0.2"));
    }

    @Test
    void sinkCountGoesToLetheAndStreamingLlmAlike() {
        Map<String, PolicySpec> s = TaskBench.settings(List.of("lethe", "h2o", "streamingllm"), List.of("0.35"),
                List.of("5"), List.of("0.3"), List.of("0.95"), 64, "80");
        assertEquals(PolicySpec.of("lethe", "sparse-ratio", "5", "delta", "64", "recent-ratio", "0.3", "gamma", "0.95", "sinks", "80"),
                s.get("lethe τ=5 Δ=64 r=0.3 γ=0.95 s=80"));
        assertEquals(PolicySpec.of("streamingllm", "budget-ratio", "0.35", "grace", "64", "sinks", "80"),
                s.get("streamingllm budget=0.35 s=80"));
        assertEquals(PolicySpec.of("h2o", "budget-ratio", "0.35", "grace", "64"), s.get("h2o budget=0.35"), "H2O has no sinks");
        assertEquals(PolicySpec.of("lethe"), s.get("lethe (defaults)"));
    }

    @Test
    void sinksPromptKeepsTheWholePromptForLetheAndStreamingLlmAlike() {
        Map<String, PolicySpec> s = TaskBench.settings(List.of("lethe", "h2o", "streamingllm"), List.of("0.35"),
                List.of("5"), List.of("0.3"), List.of("0.95"), 64, "prompt");
        assertEquals(PolicySpec.of("lethe", "sparse-ratio", "5", "delta", "64", "recent-ratio", "0.3", "gamma", "0.95", "keep-prompt", "true"),
                s.get("lethe τ=5 Δ=64 r=0.3 γ=0.95 s=prompt"));
        assertEquals(PolicySpec.of("streamingllm", "budget-ratio", "0.35", "grace", "64", "keep-prompt", "true"),
                s.get("streamingllm budget=0.35 s=prompt"));
        assertEquals(PolicySpec.of("h2o", "budget-ratio", "0.35", "grace", "64"), s.get("h2o budget=0.35"));
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
