package dev.lethe.engine.tokenizer;

import dev.lethe.engine.gguf.GgufFile;
import dev.lethe.engine.gguf.GgufReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The shared test model and golden files, found through the {@code lethe.shared.dir} system property surefire sets. */
final class SharedFiles {
    private SharedFiles() {}

    static Path path(String relative) {
        String dir = System.getProperty("lethe.shared.dir");
        if (dir == null) throw new IllegalStateException("system property lethe.shared.dir is not set (surefire sets it to <repo>/../shared)");
        Path p = Path.of(dir).resolve(relative);
        if (!Files.exists(p)) throw new IllegalStateException("shared test file " + p + " is missing");
        return p;
    }

    static GgufFile stories260K() {
        return GgufReader.read(path("models/stories260K.gguf"));
    }

    static String read(String relative) {
        try {
            return Files.readString(path(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The prompt -> ids cases of the run.c golden file (its prompts hold no JSON escapes other than \" and \\). */
    static Map<String, int[]> goldenPromptIds() {
        Matcher m = Pattern.compile("\"prompt\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"\\s*,\\s*\"ids\"\\s*:\\s*\\[([0-9,\\s]+)]")
                .matcher(read("golden/stories260K.runc-prompts-golden.json"));
        Map<String, int[]> cases = new LinkedHashMap<>();
        while (m.find()) cases.put(m.group(1).replaceAll("\\\\(.)", "$1"), ints(m.group(2)));
        if (cases.isEmpty()) throw new IllegalStateException("no prompt cases found in the golden file");
        return cases;
    }

    static int[] goldenGreedyIds() {
        Matcher m = Pattern.compile("\"ids\"\\s*:\\s*\\[([0-9,\\s]+)]").matcher(read("golden/stories260K.greedy-golden.json"));
        if (!m.find()) throw new IllegalStateException("no ids in the greedy golden file");
        return ints(m.group(1));
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
    }
}
