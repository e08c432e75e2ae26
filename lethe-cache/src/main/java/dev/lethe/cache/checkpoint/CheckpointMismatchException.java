package dev.lethe.cache.checkpoint;

import java.io.IOException;

/** An intact checkpoint that belongs to another model, layout, format or policy version: names the field. */
public final class CheckpointMismatchException extends IOException {
    private final String field;

    public CheckpointMismatchException(String field, Object found, Object expected) {
        super("checkpoint refused: field '" + field + "' differs (checkpoint has " + found + ", expected " + expected + ")");
        this.field = field;
    }

    public String field() {
        return field;
    }
}
