package dev.lethe.helm;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The chart in {@code helm/lethe}, rendered and linted by Helm itself (embedded through helm-java), as
 * {@code helm template} and {@code helm lint} would on a developer's machine. Renders are cached: the
 * tests look at the same few renders from many sides.
 */
final class Chart {

    static final String RELEASE = "rel";
    static final String NAMESPACE = "lethe";

    /** The values files every test renders: the chart-testing convention of {@code ci/*-values.yaml}. */
    static final String MINIMAL = "minimal-values.yaml";
    static final String FULL = "full-values.yaml";
    static final String PVC = "pvc-values.yaml";

    private static final Map<String, Manifests> CACHE = new ConcurrentHashMap<>();

    private Chart() {
    }

    static Path dir() {
        String dir = Objects.requireNonNull(System.getProperty("lethe.chart.dir"),
                "system property lethe.chart.dir (set by the helm-tests pom) names the chart directory");
        return Path.of(dir).toAbsolutePath().normalize();
    }

    static Path valuesFile(String name) {
        Path file = dir().resolve("ci").resolve(name);
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("no values file " + file);
        return file;
    }

    /** The manifests of {@code helm template} with one of the ci values files. */
    static Manifests render(String valuesFile) {
        return CACHE.computeIfAbsent(valuesFile, f -> render(f, Map.of()));
    }

    /** The manifests with a values file and {@code --set} overrides on top. */
    static Manifests render(String valuesFile, Map<String, Object> sets) {
        return Manifests.parse(template(valuesFile, sets).call());
    }

    /** NOTES.txt as {@code helm install} prints it, from a client-only dry run (no cluster needed). */
    static String notes(String valuesFile) {
        String output = new Helm(dir()).install()
                .withName(RELEASE)
                .withNamespace(NAMESPACE)
                .clientOnly()
                .dryRun()
                .withValuesFile(valuesFile(valuesFile))
                .call()
                .getOutput();
        int notes = output.indexOf("NOTES:");
        if (notes < 0) throw new AssertionError("helm install printed no NOTES:\n" + output);
        return output.substring(notes + "NOTES:".length());
    }

    /** The message Helm fails with, or an AssertionError when it renders after all. */
    static String renderError(String valuesFile, Map<String, Object> sets) {
        try {
            template(valuesFile, sets).call();
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
        throw new AssertionError("the chart rendered with " + valuesFile + " and " + sets + ", which should fail");
    }

    private static TemplateCommand template(String valuesFile, Map<String, Object> sets) {
        TemplateCommand command = new Helm(dir()).template()
                .withName(RELEASE)
                .withNamespace(NAMESPACE)
                .withValuesFile(valuesFile(valuesFile));
        for (Map.Entry<String, Object> set : new LinkedHashMap<>(sets).entrySet()) {
            command = command.set(set.getKey(), set.getValue());
        }
        return command;
    }

    /**
     * {@code helm lint --strict -f valuesFile}. helm-java's lint takes no values files, so the chart is
     * copied and the values file merged into the copy's values.yaml the way Helm merges them (maps
     * key by key, anything else replaced).
     */
    static LintResult lint(String valuesFile) {
        Path copy = null;
        try {
            copy = Files.createTempDirectory("lethe-chart-");
            Path chart = copy.resolve("lethe");
            copyTree(dir(), chart);
            ObjectNode values = (ObjectNode) Manifests.YAML.readTree(chart.resolve("values.yaml").toFile());
            mergeInto(values, Manifests.YAML.readTree(valuesFile(valuesFile).toFile()));
            Manifests.YAML.writeValue(chart.resolve("values.yaml").toFile(), values);
            return new Helm(chart).lint().strict().call();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (copy != null) deleteTree(copy);
        }
    }

    /** The chart exactly as it is, default values only: {@code helm lint --strict helm/lethe}. */
    static LintResult lintAsIs() {
        return new Helm(dir()).lint().strict().call();
    }

    private static void mergeInto(ObjectNode target, JsonNode overrides) {
        for (Map.Entry<String, JsonNode> entry : overrides.properties()) {
            JsonNode existing = target.get(entry.getKey());
            if (existing instanceof ObjectNode map && entry.getValue().isObject()) {
                mergeInto(map, entry.getValue());
            } else {
                target.set(entry.getKey(), entry.getValue());
            }
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path file : files.toList()) {
                Path target = to.resolve(from.relativize(file).toString());
                if (Files.isDirectory(file)) Files.createDirectories(target);
                else Files.copy(file, target);
            }
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) Files.delete(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
