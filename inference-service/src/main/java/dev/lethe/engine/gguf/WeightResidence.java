package dev.lethe.engine.gguf;

import java.util.Locale;

/** Where a model's tensor bytes live once loaded: in the file's memory mapping, or copied into memory. */
public enum WeightResidence {
    /** Zero-copy slices of the mapped file; the kernel may drop idle pages and read them again from disk. */
    MAPPED,
    /** One copy in anonymous memory, read once at load; never paged out on a machine without swap. */
    MEMORY;

    /** The system property {@code lethe.weights} ({@code mapped} or {@code memory}); mapped when unset. */
    public static WeightResidence fromSystemProperty() {
        String value = System.getProperty("lethe.weights", "mapped").trim().toUpperCase(Locale.ROOT);
        try {
            return valueOf(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("system property lethe.weights must be 'mapped' or 'memory', got '"
                    + System.getProperty("lethe.weights") + "'");
        }
    }
}
