package dev.lethe.engine.generate;

/** Receives each generated token as it is produced, then the end of the generation. */
public interface TokenListener {
    /**
     * @param seq 0-based index of the token among the generated ones
     * @param tokenId the token
     * @param text the new text this token completes (may be empty: part of a UTF-8 character, or held back
     *     because it may start a stop sequence)
     */
    void onToken(int seq, int tokenId, String text);

    /** The generation ended; {@code trailingText} is text that was held back until now (often empty). */
    default void onFinish(FinishReason reason, String trailingText) {}
}
