package dev.lethe.engine.model;

/** A sequence would grow past the model's context length. */
public class ContextOverflowException extends IllegalArgumentException {
    public ContextOverflowException(int needed, int contextLength) {
        super("the sequence needs " + needed + " positions but the model's context length is " + contextLength);
    }
}
