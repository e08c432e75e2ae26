package dev.lethe.cache.policy;

import java.util.Objects;

/**
 * A selector's verdict for one layer at the end of a step: no round, a round that was deferred (Lethe found
 * no attention breakpoint and kept everything), or a round that keeps the given slots.
 *
 * @param keep the slots to keep, strictly ascending; only for {@link Kind#PRUNE}
 */
public record Selection(Kind kind, int[] keep) {

    public enum Kind { NONE, DEFERRED, PRUNE }

    public static final Selection NONE = new Selection(Kind.NONE, null);
    public static final Selection DEFERRED = new Selection(Kind.DEFERRED, null);

    public Selection {
        Objects.requireNonNull(kind, "kind");
        if ((kind == Kind.PRUNE) != (keep != null)) {
            throw new IllegalArgumentException("keep must be given exactly for PRUNE, got " + kind);
        }
    }

    public static Selection keep(int[] slots) {
        return new Selection(Kind.PRUNE, slots);
    }
}
