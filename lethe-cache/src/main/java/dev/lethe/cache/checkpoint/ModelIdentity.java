package dev.lethe.cache.checkpoint;

import dev.lethe.cache.KvLayout;

import java.util.Objects;

/** Which model a checkpoint belongs to: a reader refuses a checkpoint whose identity differs. */
public record ModelIdentity(String modelHash, String tokenizerHash, KvLayout layout) {
    public ModelIdentity {
        Objects.requireNonNull(modelHash, "modelHash");
        Objects.requireNonNull(tokenizerHash, "tokenizerHash");
        Objects.requireNonNull(layout, "layout");
    }
}
