package dev.lethe.engine.generate;

/** Why a generation ended; the names follow the OpenAI API's {@code finish_reason}. */
public enum FinishReason {
    /** An end-of-generation token or a stop sequence. */
    STOP,
    /** The max-tokens limit or the model's context length. */
    LENGTH
}
