package dev.lethe.gateway.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.lethe.gateway.jobs.Usage;
import dev.lethe.schemas.FinishReason;
import java.util.List;

/**
 * OpenAI's response objects, field for field, so that unmodified OpenAI clients read them:
 * {@code chat.completion}, {@code chat.completion.chunk} and {@code text_completion}.
 */
public final class OpenAi {

    private OpenAi() {
    }

    public record ChatCompletion(String id, String object, long created, String model, List<ChatChoice> choices,
                                 OpenAiUsage usage) {
        public ChatCompletion(String id, long created, String model, String text, FinishReason reason, Usage usage) {
            this(id, "chat.completion", created, model,
                    List.of(new ChatChoice(0, new AssistantMessage("assistant", text, null), null, finishReason(reason))),
                    OpenAiUsage.of(usage));
        }
    }

    public record ChatChoice(int index, AssistantMessage message, Object logprobs,
                             @JsonProperty("finish_reason") String finishReason) {
    }

    public record AssistantMessage(String role, String content, String refusal) {
    }

    public record ChatChunk(String id, String object, long created, String model, List<ChunkChoice> choices,
                            @JsonInclude(JsonInclude.Include.NON_NULL) OpenAiUsage usage) {
        public ChatChunk(String id, long created, String model, List<ChunkChoice> choices, OpenAiUsage usage) {
            this(id, "chat.completion.chunk", created, model, choices, usage);
        }
    }

    public record ChunkChoice(int index, Delta delta, Object logprobs,
                              @JsonProperty("finish_reason") String finishReason) {
    }

    /** Fields absent rather than null, as OpenAI sends them: the role only in the first chunk. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Delta(String role, String content) {
    }

    public record TextCompletion(String id, String object, long created, String model, List<TextChoice> choices,
                                 @JsonInclude(JsonInclude.Include.NON_NULL) OpenAiUsage usage) {
        public TextCompletion(String id, long created, String model, List<TextChoice> choices, OpenAiUsage usage) {
            this(id, "text_completion", created, model, choices, usage);
        }
    }

    public record TextChoice(String text, int index, Object logprobs,
                             @JsonProperty("finish_reason") String finishReason) {
    }

    public record OpenAiUsage(@JsonProperty("prompt_tokens") long promptTokens,
                              @JsonProperty("completion_tokens") long completionTokens,
                              @JsonProperty("total_tokens") long totalTokens) {
        static OpenAiUsage of(Usage usage) {
            return new OpenAiUsage(usage.promptTokens(), usage.completionTokens(), usage.totalTokens());
        }
    }

    /** An error inside a stream, in the shape OpenAI's clients recognise. */
    public record StreamError(ErrorBody error) {
        public StreamError(String message, String type) {
            this(new ErrorBody(message, type, null));
        }
    }

    public record ErrorBody(String message, String type, String code) {
    }

    public record Model(String id, String object, long created, @JsonProperty("owned_by") String ownedBy) {
    }

    public record ModelList(String object, List<Model> data) {
    }

    /**
     * OpenAI's finish reasons are {@code stop} and {@code length} (and some for tools). A cancelled job
     * stopped early at the client's request: {@code stop} is the closest OpenAI value.
     */
    public static String finishReason(FinishReason reason) {
        return switch (reason) {
            case LENGTH -> "length";
            case STOP, CANCELLED, ERROR -> "stop";
        };
    }
}
