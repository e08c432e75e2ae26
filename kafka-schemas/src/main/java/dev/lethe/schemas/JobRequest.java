package dev.lethe.schemas;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * {@code lethe.job-request/v1}: a request to run one generation job (topic {@code lethe.requests}).
 * Exactly one of {@code prompt} (plain completion) and {@code messages} (chat) is present.
 *
 * @param model    model name, or null for the workers' default model
 * @param kvPolicy KV eviction policy, or null for the workers' default
 * @param priority 0 (lowest) to 9 (highest); the schema's default is 5
 */
public record JobRequest(
        String jobId,
        String tenant,
        String prompt,
        List<ChatMessage> messages,
        String model,
        Sampling sampling,
        KvPolicy kvPolicy,
        int priority,
        Instant createdAt) implements Event {

    public static final int DEFAULT_PRIORITY = 5;

    public JobRequest {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(sampling, "sampling");
        Objects.requireNonNull(createdAt, "createdAt");
        if ((prompt == null) == (messages == null)) {
            throw new IllegalArgumentException("a job request has either a prompt or messages, not both and not neither");
        }
        messages = messages == null ? null : List.copyOf(messages);
    }

    public static JobRequest ofPrompt(String jobId, String tenant, String prompt, Sampling sampling, Instant createdAt) {
        return new JobRequest(jobId, tenant, prompt, null, null, sampling, null, DEFAULT_PRIORITY, createdAt);
    }

    public static JobRequest ofChat(String jobId, String tenant, List<ChatMessage> messages, Sampling sampling,
                                    Instant createdAt) {
        return new JobRequest(jobId, tenant, null, messages, null, sampling, null, DEFAULT_PRIORITY, createdAt);
    }
}
