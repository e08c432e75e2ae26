package dev.lethe.engine.testutil;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the project's shared test inputs (models, golden outputs) beside the checkout. */
public final class SharedFiles {
    private SharedFiles() {}

    public static Path sharedDir() {
        String dir = System.getProperty("lethe.shared.dir");
        Path p = dir != null ? Path.of(dir) : Path.of("../shared");
        if (!Files.isDirectory(p)) p = Path.of("../../shared");
        if (!Files.isDirectory(p)) throw new IllegalStateException("cannot find the shared folder (set -Dlethe.shared.dir); tried " + p.toAbsolutePath());
        return p;
    }

    public static Path storiesModel() {
        return sharedDir().resolve("models/stories260K.gguf");
    }

    public static Path golden(String name) {
        return sharedDir().resolve("golden").resolve(name);
    }
}
