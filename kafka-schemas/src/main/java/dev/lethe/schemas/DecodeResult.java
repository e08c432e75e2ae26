package dev.lethe.schemas;

import java.util.List;

/**
 * What decoding bytes gave: a validated event, or why there is none (with the bytes, so that a
 * consumer can send them to the DLQ as they came).
 */
public sealed interface DecodeResult<T extends Event> {

    /** The event, or an {@link InvalidEventException} carrying the reason. */
    T orElseThrow();

    record Valid<T extends Event>(T event) implements DecodeResult<T> {
        @Override
        public T orElseThrow() {
            return event;
        }
    }

    /**
     * @param problems what is wrong, one line each, such as {@code $.sampling.temperature: must have a
     *                 maximum value of 2}
     * @param raw      the bytes as received (not copied; do not change them)
     */
    record Invalid<T extends Event>(FailureKind kind, List<String> problems, byte[] raw) implements DecodeResult<T> {

        public Invalid {
            problems = List.copyOf(problems);
        }

        /** One human-readable line: the kind and every problem. */
        public String reason() {
            return InvalidEventException.describe(kind, problems);
        }

        @Override
        public T orElseThrow() {
            throw new InvalidEventException(kind, problems);
        }
    }
}
