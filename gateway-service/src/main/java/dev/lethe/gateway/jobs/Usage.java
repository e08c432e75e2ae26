package dev.lethe.gateway.jobs;

/** Token counts of one job, as OpenAI reports them. */
public record Usage(long promptTokens, long completionTokens) {

    public long totalTokens() {
        return promptTokens + completionTokens;
    }
}
