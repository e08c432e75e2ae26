package dev.lethe.schemas;

import java.util.List;

/** An event that does not meet its contract, with every problem found. */
public final class InvalidEventException extends RuntimeException {

    private final FailureKind kind;
    private final List<String> problems;

    public InvalidEventException(FailureKind kind, List<String> problems) {
        super(describe(kind, problems));
        this.kind = kind;
        this.problems = List.copyOf(problems);
    }

    public FailureKind kind() {
        return kind;
    }

    public List<String> problems() {
        return problems;
    }

    static String describe(FailureKind kind, List<String> problems) {
        return "invalid event (" + kind + "): " + String.join("; ", problems);
    }
}
