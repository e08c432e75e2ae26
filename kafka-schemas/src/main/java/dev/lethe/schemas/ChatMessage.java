package dev.lethe.schemas;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Objects;

/** One message of a chat request; rendered with the model's chat template. */
public record ChatMessage(Role role, String content) {

    public enum Role {
        @JsonProperty("system") SYSTEM,
        @JsonProperty("user") USER,
        @JsonProperty("assistant") ASSISTANT
    }

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }
}
