package dev.lethe.gateway.jobs;

/**
 * A job's whole output, once it ended.
 *
 * @param text     the concatenated text of all tokens
 * @param finished how it ended, or null when the stream was lost
 * @param lost     why the output is incomplete, or null
 */
public record JobResult(String text, StreamEvent.Finished finished, String lost) {
}
