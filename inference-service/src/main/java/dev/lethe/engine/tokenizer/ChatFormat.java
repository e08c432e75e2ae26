package dev.lethe.engine.tokenizer;

import dev.lethe.engine.gguf.GgufFile;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;

/**
 * Turns a conversation into the prompt tokens a chat model was trained on. We do not run the Jinja template
 * in {@code tokenizer.chat_template}; we recognise which of the two families it belongs to and render that
 * family's layout, ending with the header that asks the assistant to speak:
 * <ul>
 *   <li>{@link Kind#LLAMA3}: {@code <|begin_of_text|>} then per message
 *       {@code <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>} (content trimmed, as the
 *       template does);</li>
 *   <li>{@link Kind#CHATML} (Qwen): per message {@code <|im_start|>role\ncontent<|im_end|>\n}.</li>
 * </ul>
 * Marker tokens go in as ids; roles and contents are encoded as plain text, so a user who types
 * {@code <|im_end|>} gets those characters, not the marker. Templates that add a default system prompt or a
 * date line do so only when the caller passes those as messages.
 */
public final class ChatFormat {

    public enum Kind { LLAMA3, CHATML }

    private static final String TEMPLATE_KEY = "tokenizer.chat_template";

    private final Kind kind;
    private final Tokenizer tokenizer;

    public ChatFormat(Kind kind, Tokenizer tokenizer) {
        this.kind = kind;
        this.tokenizer = tokenizer;
        for (String marker : markers(kind)) {
            if (tokenizer.specialTokenId(marker) < 0) {
                throw new IllegalArgumentException("the " + kind + " chat format needs special token " + marker
                        + ", which the vocabulary does not have");
            }
        }
    }

    /** The chat format of a model, or empty when it has no chat template or one of a family we do not know. */
    public static Optional<ChatFormat> fromGguf(GgufFile gguf, Tokenizer tokenizer) {
        return detect(templateOf(gguf)).map(kind -> new ChatFormat(kind, tokenizer));
    }

    /** Like {@link #fromGguf}, but says why a model cannot chat (for a {@code --chat} the user asked for). */
    public static ChatFormat require(GgufFile gguf, Tokenizer tokenizer) {
        String template = templateOf(gguf);
        if (template == null) {
            throw new IllegalArgumentException("this model has no chat template (metadata key '" + TEMPLATE_KEY
                    + "' is missing), so it cannot chat; run it without --chat");
        }
        Kind kind = detect(template).orElseThrow(() -> new IllegalArgumentException(
                "unsupported chat template in '" + TEMPLATE_KEY + "': only Llama 3 (<|start_header_id|>) and ChatML/Qwen (<|im_start|>) are supported"));
        return new ChatFormat(kind, tokenizer);
    }

    /** The family of a Jinja chat template, judged by the markers it uses; empty for none or another family. */
    public static Optional<Kind> detect(String template) {
        if (template == null) return Optional.empty();
        if (template.contains("<|start_header_id|>")) return Optional.of(Kind.LLAMA3);
        if (template.contains("<|im_start|>")) return Optional.of(Kind.CHATML);
        return Optional.empty();
    }

    private static String templateOf(GgufFile gguf) {
        Object v = gguf.metadata().get(TEMPLATE_KEY);
        if (v != null && !(v instanceof String)) {
            throw new IllegalArgumentException("metadata key '" + TEMPLATE_KEY + "' should be a string but is " + v.getClass().getSimpleName());
        }
        return (String) v;
    }

    public Kind kind() {
        return kind;
    }

    /** The prompt for {@code messages} followed by the assistant's header, as token ids. */
    public int[] render(List<ChatMessage> messages) {
        Prompt p = new Prompt();
        switch (kind) {
            case LLAMA3 -> {
                p.special("<|begin_of_text|>");
                for (ChatMessage m : messages) {
                    p.special("<|start_header_id|>").text(m.role()).special("<|end_header_id|>")
                            .text("\n\n" + m.content().strip()).special("<|eot_id|>");
                }
                p.special("<|start_header_id|>").text("assistant").special("<|end_header_id|>").text("\n\n");
            }
            case CHATML -> {
                for (ChatMessage m : messages) {
                    p.special("<|im_start|>").text(m.role() + "\n" + m.content()).special("<|im_end|>").text("\n");
                }
                p.special("<|im_start|>").text("assistant\n");
            }
        }
        return p.ids();
    }

    private static List<String> markers(Kind kind) {
        return switch (kind) {
            case LLAMA3 -> List.of("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>");
            case CHATML -> List.of("<|im_start|>", "<|im_end|>");
        };
    }

    /**
     * Collects markers and text. Text between two markers is encoded in one go, as it would be if the
     * template's output string were tokenized, because BPE pieces can span what the layout writes separately
     * ("\n\n" and the content that follows it).
     */
    private final class Prompt {
        private final List<int[]> parts = new ArrayList<>();
        private final StringBuilder text = new StringBuilder();

        Prompt special(String marker) {
            flushText();
            parts.add(new int[] {tokenizer.specialTokenId(marker)});
            return this;
        }

        Prompt text(String s) {
            text.append(s);
            return this;
        }

        int[] ids() {
            flushText();
            return parts.stream().flatMapToInt(IntStream::of).toArray();
        }

        private void flushText() {
            if (text.isEmpty()) return;
            parts.add(tokenizer.encode(text.toString(), false, false));
            text.setLength(0);
        }
    }
}
