package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.model.Model;
import dev.lethe.engine.testutil.SharedFiles;
import dev.lethe.engine.tokenizer.Detokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

class LetheCliTest {
    record Result(int exitCode, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = LetheCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void greedyGenerationPrintsTheReferenceText() throws IOException {
        JsonNode golden = new ObjectMapper().readTree(SharedFiles.golden("stories260K.greedy-golden.json").toFile());
        int[] ids = new int[golden.get("ids").size()];
        for (int i = 0; i < ids.length; i++) ids[i] = golden.get("ids").get(i).asInt();
        // The reference greedy run from BOS begins with "Once upon a time" (4 tokens), so a greedy run from that
        // prompt must print the reference text: prompt plus 100 generated tokens.
        String expected;
        try (Model model = Model.load(SharedFiles.storiesModel())) {
            expected = Detokenizer.decode(model.tokenizer(), Arrays.copyOf(ids, 1 + 4 + 100));
        }
        Result r = run("generate", "--model", SharedFiles.storiesModel().toString(), "--prompt", "Once upon a time",
                "--temperature", "0", "--max-tokens", "100");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(expected.startsWith("Once upon a time, there was"), expected);
        assertEquals(expected + System.lineSeparator(), r.out());
        assertTrue(r.err().contains("decode: 100 tokens"), r.err());
    }

    @Test
    void seededSamplingIsRepeatableAndDiffersAcrossSeeds() {
        String model = SharedFiles.storiesModel().toString();
        Result a = run("generate", "--model", model, "--prompt", "Tim", "--seed", "7", "--temperature", "1", "--max-tokens", "40");
        Result b = run("generate", "--model", model, "--prompt", "Tim", "--seed", "7", "--temperature", "1", "--max-tokens", "40");
        Result c = run("generate", "--model", model, "--prompt", "Tim", "--seed", "8", "--temperature", "1", "--max-tokens", "40");
        assertEquals(0, a.exitCode(), a.err());
        assertEquals(a.out(), b.out());
        assertFalse(a.out().equals(c.out()), "seeds 7 and 8 gave the same text: " + a.out());
    }

    @Test
    void stopSequenceEndsTheOutputBeforeIt() {
        Result r = run("generate", "--model", SharedFiles.storiesModel().toString(), "--prompt", "Once upon a time",
                "--temperature", "0", "--max-tokens", "100", "--stop", "Lily");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals("Once upon a time, there was a little girl named " + System.lineSeparator(), r.out());
        assertTrue(r.err().contains("finish: stop"), r.err());
    }

    @Test
    void badInputGivesOneLineErrorsAndNonZeroExitCodes(@TempDir Path dir) throws IOException {
        String model = SharedFiles.storiesModel().toString();
        Path truncated = dir.resolve("truncated.gguf");
        byte[] bytes = Files.readAllBytes(SharedFiles.storiesModel());
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length / 2));
        Path garbage = dir.resolve("garbage.gguf");
        Files.writeString(garbage, "this is not a model file, just some words that are long enough");

        assertError(run("generate", "--model", truncated.toString(), "--prompt", "hi"), "truncated");
        assertError(run("generate", "--model", garbage.toString(), "--prompt", "hi"), "not a GGUF file");
        assertError(run("generate", "--model", dir.resolve("missing.gguf").toString(), "--prompt", "hi"), "not found");
        assertError(run("generate", "--model", model, "--prompt", "hi", "--temperature", "-0.5"), "temperature");
        assertError(run("generate", "--model", model, "--prompt", "hi", "--top-p", "2"), "top-p");
        assertError(run("generate", "--model", model, "--prompt", "hi", "--max-tokens", "many"), "--max-tokens");
        assertError(run("generate", "--model", model, "--prompt", "hi", "--colour", "blue"), "unknown option --colour");
        assertError(run("generate", "--model", model), "--prompt is required");
        assertError(run("generate", "--model", model, "--prompt", "once ".repeat(2000)), "but the model's context length is");
        assertError(run("generate", "--model", model, "--prompt", "hi", "--chat"), "no chat template");
        assertError(run("frobnicate"), "unknown command");
    }

    private static void assertError(Result r, String expectedFragment) {
        assertTrue(r.exitCode() != 0, "exit code 0 for an error case: " + r);
        assertTrue(r.err().contains(expectedFragment), "stderr lacks '" + expectedFragment + "': " + r.err());
        assertTrue(r.err().startsWith("lethe: "), r.err());
        assertFalse(r.err().contains("\tat "), "a stack trace was printed: " + r.err());
    }
}
