package dev.lethe.cache;

/** A cache could not grow because its {@link KvBlockPool} has too few free blocks. */
public final class KvPoolExhaustedException extends IllegalStateException {
    public KvPoolExhaustedException(String message) {
        super(message);
    }
}
