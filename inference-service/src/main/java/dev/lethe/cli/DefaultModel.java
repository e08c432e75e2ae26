package dev.lethe.cli;

import java.nio.file.Path;

/**
 * Where the model comes from when the command line names none: {@code $LETHE_MODEL}, else the system property
 * {@code lethe.model}, else the project's own reasoning model, {@code <repo>/models/lethe-trace.gguf}.
 */
final class DefaultModel {
    private DefaultModel() {}

    static Path path() {
        String env = System.getenv("LETHE_MODEL");
        if (env != null && !env.isBlank()) return Path.of(env);
        String prop = System.getProperty("lethe.model");
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        String home = System.getProperty("lethe.home", ".");
        return Path.of(home).resolve("models/lethe-trace.gguf").normalize();
    }
}
