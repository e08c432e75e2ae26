package dev.lethe.engine.scheduler;

/**
 * How a job ended.
 *
 * @param generatedTokens tokens generated and handed to the listener (seq {@code 0..generatedTokens-1})
 * @param trailingText    text held back until the end (a stop-sequence prefix that did not complete, the bytes of
 *                        an unfinished UTF-8 character); empty when there is none
 * @param error           what went wrong, for {@link Ending#FAILED}; otherwise null
 */
public record JobOutcome(Ending ending, int promptTokens, int generatedTokens, String trailingText, String error) {

    public enum Ending {
        /** An end-of-generation token or a stop sequence. */
        STOP,
        /** The job's max-tokens limit or the model's context length. */
        LENGTH,
        /** Cancelled on request. */
        CANCELLED,
        /** The engine failed on this job (the other jobs go on). */
        FAILED
    }
}
