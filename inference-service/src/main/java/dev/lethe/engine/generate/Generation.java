package dev.lethe.engine.generate;

import dev.lethe.engine.model.Decoder;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.tokenizer.Detokenizer;
import dev.lethe.engine.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * One generation, advanced a token at a time so that a scheduler can interleave many of them: prefill the
 * prompt, then {@link #step} until it returns false. Tokens, text and timings are kept for the result.
 */
public final class Generation {
    private final Decoder sequence;
    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final SamplingParams params;
    private final Detokenizer detokenizer;
    private final StopSequenceMatcher stops;
    private final StringBuilder text = new StringBuilder();
    private int[] generated = new int[64];
    private int count;
    private int promptTokens;
    private float[] logits;
    private FinishReason finishReason;
    private long prefillNanos;
    private long decodeNanos;

    public Generation(Decoder sequence, Tokenizer tokenizer, Sampler sampler) {
        this.sequence = sequence;
        this.tokenizer = tokenizer;
        this.sampler = sampler;
        this.params = sampler.params();
        this.stops = new StopSequenceMatcher(params.stop());
        this.detokenizer = new Detokenizer(tokenizer);
    }

    /**
     * Feeds the prompt. Returns the prompt's text as the detokenizer renders it (for echoing it before the
     * generated text: it also tells the detokenizer whether the first generated token starts the text).
     */
    public String prefill(int[] prompt) {
        long t0 = System.nanoTime();
        logits = sequence.prefill(prompt);
        prefillNanos += System.nanoTime() - t0;
        promptTokens += prompt.length;
        StringBuilder promptText = new StringBuilder();
        for (int token : prompt) promptText.append(detokenizer.push(token));
        return promptText.toString();
    }

    /** Samples and emits the next token, then feeds it to the model. Returns false once the generation has ended. */
    public boolean step(TokenListener listener) {
        if (finishReason != null) return false;
        if (logits == null) throw new IllegalStateException("prefill the prompt before generating");
        long t0 = System.nanoTime();
        int token = sampler.sample(logits);
        if (tokenizer.isEndOfGeneration(token)) {
            finish(FinishReason.STOP, listener);
            decodeNanos += System.nanoTime() - t0;
            return false;
        }
        if (count == generated.length) generated = Arrays.copyOf(generated, count * 2);
        generated[count] = token;
        String delta = stops.accept(detokenizer.push(token));
        text.append(delta);
        listener.onToken(count++, token, delta);
        if (stops.stopped()) {
            finish(FinishReason.STOP, listener);
        } else if (count >= params.maxTokens() || sequence.position() >= sequence.contextLength()) {
            finish(FinishReason.LENGTH, listener);
        } else {
            logits = sequence.forward(token);
        }
        decodeNanos += System.nanoTime() - t0;
        return finishReason == null;
    }

    private void finish(FinishReason reason, TokenListener listener) {
        finishReason = reason;
        String trailing = reason == FinishReason.STOP && stops.stopped() ? "" : stops.accept(detokenizer.flush()) + stops.flush();
        text.append(trailing);
        listener.onFinish(reason, trailing);
    }

    public Decoder sequence() {
        return sequence;
    }

    public Sampler sampler() {
        return sampler;
    }

    public boolean finished() {
        return finishReason != null;
    }

    public FinishReason finishReason() {
        return finishReason;
    }

    public int[] generatedTokens() {
        return Arrays.copyOf(generated, count);
    }

    public int generatedCount() {
        return count;
    }

    public int promptTokens() {
        return promptTokens;
    }

    public String text() {
        return text.toString();
    }

    public long prefillNanos() {
        return prefillNanos;
    }

    public long decodeNanos() {
        return decodeNanos;
    }
}
