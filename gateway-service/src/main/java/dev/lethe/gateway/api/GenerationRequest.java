package dev.lethe.gateway.api;

import dev.lethe.schemas.ChatMessage;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.KvPolicy;
import dev.lethe.schemas.Sampling;
import java.time.Instant;
import java.util.List;

/**
 * A validated request to generate, from any of the gateway's endpoints.
 *
 * @param requestedModel the model the client named, or null (then workers use their default)
 * @param model          the model name to report back: the requested one, or the gateway's default
 * @param prompt         plain text to complete, or null for a chat
 * @param messages       the chat, or null for a plain completion
 * @param kvPolicy       KV eviction policy, or null for the workers' default
 * @param stream         whether the client asked for an SSE stream (OpenAI endpoints)
 * @param includeUsage   whether a streamed response ends with a usage chunk
 */
public record GenerationRequest(
        String requestedModel,
        String model,
        String prompt,
        List<ChatMessage> messages,
        Sampling sampling,
        KvPolicy kvPolicy,
        int priority,
        boolean stream,
        boolean includeUsage) {

    public GenerationRequest {
        messages = messages == null ? null : List.copyOf(messages);
    }

    public JobRequest toJobRequest(String jobId, String tenant, Instant createdAt) {
        return new JobRequest(jobId, tenant, prompt, messages, requestedModel, sampling, kvPolicy, priority, createdAt);
    }
}
