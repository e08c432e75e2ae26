package dev.lethe.engine.tokenizer;

import java.util.Objects;

/** One turn of a conversation: a role ("system", "user", "assistant") and what was said. */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        if (role.isBlank()) throw new IllegalArgumentException("a chat message needs a role");
    }
}
