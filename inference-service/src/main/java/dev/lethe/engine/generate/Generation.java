package dev.lethe.engine.generate;

import dev.lethe.cache.checkpoint.SamplerState;
import dev.lethe.cache.checkpoint.SequenceState;
import dev.lethe.engine.model.Decoder;
import dev.lethe.engine.model.ForwardPass;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.tokenizer.Detokenizer;
import dev.lethe.engine.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One generation, advanced a token at a time so that a scheduler can interleave many of them: prefill the
 * prompt, then {@link #step} until it returns false. Tokens, text and timings are kept for the result.
 *
 * <p>Between steps the KV cache holds every token but the newest one, the <em>pending</em> token (the last
 * prompt token before the first step, then the last generated one). A step first feeds the pending token,
 * then samples. So the state between steps is exactly the cache plus the token ids plus the sampler, which
 * is what a checkpoint stores ({@link #snapshot}) and {@link #resume} continues from, token for token.
 */
public final class Generation {
    private static final TokenListener NO_TOKENS = (seq, token, text) -> {};
    private final Decoder sequence;
    private final Sampler sampler;
    private final SamplingParams params;
    private final Detokenizer detokenizer;
    private final StopSequenceMatcher stops;
    private final Tokenizer tokenizer;
    private final StringBuilder text = new StringBuilder();
    private int[] prompt = new int[0];
    private int[] generated = new int[64];
    private int count;
    private int pendingToken = -1;
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
     * Feeds the prompt (all but its last token, which the first step feeds). Returns the prompt's text as the
     * detokenizer renders it (for echoing it before the generated text: it also tells the detokenizer whether
     * the first generated token starts the text).
     */
    public String prefill(int[] promptTokens) {
        if (promptTokens.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        if (pendingToken >= 0 || count > 0) throw new IllegalStateException("this generation has already been prefilled");
        if (sequence.cache() != null) sequence.cache().declarePromptLength(promptTokens.length);
        long t0 = System.nanoTime();
        if (promptTokens.length > 1) sequence.prefill(Arrays.copyOf(promptTokens, promptTokens.length - 1));
        prefillNanos += System.nanoTime() - t0;
        prompt = promptTokens.clone();
        pendingToken = promptTokens[promptTokens.length - 1];
        StringBuilder promptText = new StringBuilder();
        for (int token : promptTokens) promptText.append(detokenizer.push(token));
        return promptText.toString();
    }

    /**
     * Continues a generation from a checkpoint: {@code sequence} holds the restored cache (every token but the
     * newest), {@code state} the token ids and sampler. Text already delivered is not delivered again.
     */
    public static Generation resume(Decoder sequence, Tokenizer tokenizer, SamplingParams params, SequenceState state) {
        return resume(sequence, tokenizer, params, state, state.generatedTokens().length - 1L, NO_TOKENS);
    }

    /**
     * Continues a generation from a checkpoint whose tokens after {@code deliveredLastSeq} never reached the
     * client (a worker that died between writing the checkpoint and streaming them): those are handed to
     * {@code listener} now, with their text, so the stream has no gap.
     */
    public static Generation resume(Decoder sequence, Tokenizer tokenizer, SamplingParams params, SequenceState state,
                                    long deliveredLastSeq, TokenListener listener) {
        Generation g = new Generation(sequence, tokenizer, new Sampler(params, state.sampler().rngState()));
        g.prompt = state.promptTokens();
        int[] done = state.generatedTokens();
        int expectedPosition = g.prompt.length + done.length - 1;
        if (sequence.position() != expectedPosition) {
            throw new IllegalStateException("the restored sequence is at position " + sequence.position()
                    + " but the checkpoint's tokens put it at " + expectedPosition);
        }
        for (int token : g.prompt) g.detokenizer.push(token);
        g.generated = Arrays.copyOf(done, Math.max(64, done.length * 2));
        g.count = done.length;
        for (int seq = 0; seq < done.length; seq++) {
            String delta = g.stops.accept(g.detokenizer.push(done[seq]));
            g.text.append(delta);
            if (seq > deliveredLastSeq) listener.onToken(seq, done[seq], delta);
        }
        g.pendingToken = done.length > 0 ? done[done.length - 1] : g.prompt[g.prompt.length - 1];
        return g;
    }

    /**
     * Continues a generation without a checkpoint (vLLM's recompute): one prefill of the prompt and the tokens
     * already delivered, all but the newest, which is pending as after any step. The sampler's generator is
     * moved past the draws those tokens took, so the continuation draws what the original run would have.
     * The cache is not the one the original run had (a prefill observes attention per chunk, not per token),
     * so a pruned cache may keep other positions: the continuation is conditioned on exactly the delivered
     * text, but may differ from what the original run would have generated.
     */
    public static Generation recompute(Decoder sequence, Tokenizer tokenizer, SamplingParams params, int[] promptTokens,
                                       int[] delivered) {
        if (promptTokens.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        if (promptTokens.length + delivered.length > sequence.contextLength()) {
            throw new IllegalArgumentException("the prompt and the delivered tokens (" + promptTokens.length + " + "
                    + delivered.length + ") do not fit the context of " + sequence.contextLength());
        }
        Sampler sampler = new Sampler(params);
        if (!params.isGreedy()) sampler.skip(delivered.length);
        Generation g = new Generation(sequence, tokenizer, sampler);
        int[] all = Arrays.copyOf(promptTokens, promptTokens.length + delivered.length);
        System.arraycopy(delivered, 0, all, promptTokens.length, delivered.length);
        if (sequence.cache() != null) sequence.cache().declarePromptLength(promptTokens.length);
        long t0 = System.nanoTime();
        if (all.length > 1) sequence.prefill(Arrays.copyOf(all, all.length - 1));
        g.prefillNanos += System.nanoTime() - t0;
        g.prompt = promptTokens.clone();
        for (int token : g.prompt) g.detokenizer.push(token);
        g.generated = Arrays.copyOf(delivered, Math.max(64, delivered.length * 2));
        g.count = delivered.length;
        for (int token : delivered) g.text.append(g.stops.accept(g.detokenizer.push(token)));
        g.pendingToken = all[all.length - 1];
        return g;
    }

    /**
     * Feeds tokens another run already generated and delivered, one decode step each, as if this generation
     * had sampled them: the cache sees the same steps (and prunes the same way), the sampler draws as it would
     * have. The given tokens are kept whatever the sampler draws, so the continuation is conditioned on exactly
     * them; nothing is emitted except an ending the tokens reach (a stop sequence or max tokens).
     *
     * @return how many of the tokens differ from what this generation would have sampled itself (0 when the
     *     engine reproduces the original run bit for bit)
     */
    public int replay(int[] tokens, TokenListener listener) {
        int differing = 0;
        for (int token : tokens) {
            if (!readyToStep(listener)) break;
            long t0 = System.nanoTime();
            sequence.forward(pendingToken);
            if (sampler.sample(sequence.logits()) != token) differing++;
            decodeNanos += System.nanoTime() - t0;
            if (count == generated.length) generated = Arrays.copyOf(generated, count * 2);
            generated[count++] = token;
            text.append(stops.accept(detokenizer.push(token)));
            pendingToken = token;
            if (stops.stopped()) {
                finish(FinishReason.STOP, listener);
            } else if (count >= params.maxTokens()) {
                finish(FinishReason.LENGTH, listener);
            }
        }
        return differing;
    }

    /** The state a checkpoint stores with the cache; take it between steps. */
    public SequenceState snapshot() {
        if (finishReason != null) throw new IllegalStateException("the generation has finished");
        return new SequenceState(prompt, generatedTokens(), count - 1, new SamplerState(params.temperature(),
                params.topP(), params.topK(), params.minP(), params.seed(), sampler.rngState()));
    }

    /** Feeds the pending token, samples and emits the next one. Returns false once the generation has ended. */
    public boolean step(TokenListener listener) {
        if (!readyToStep(listener)) return false;
        long t0 = System.nanoTime();
        sequence.forward(pendingToken);
        emitNext(listener);
        decodeNanos += System.nanoTime() - t0;
        return finishReason == null;
    }

    /**
     * Steps several generations at once: their pending tokens go through one batched forward pass (every weight
     * row read once for all of them), then each samples and emits through its own listener. Finished
     * generations are skipped. Generations on the CPU engine ({@link Sequence}) of the pass's model are
     * batched; any other decoder steps on its own.
     */
    public static void stepAll(List<Generation> generations, List<TokenListener> listeners, ForwardPass pass) {
        List<Generation> active = new ArrayList<>();
        List<TokenListener> activeListeners = new ArrayList<>();
        for (int i = 0; i < generations.size(); i++) {
            Generation g = generations.get(i);
            if (!(g.sequence instanceof Sequence)) {
                g.step(listeners.get(i));
            } else if (g.readyToStep(listeners.get(i))) {
                active.add(generations.get(i));
                activeListeners.add(listeners.get(i));
            }
        }
        for (int from = 0; from < active.size(); from += pass.maxRows()) {
            List<Generation> slice = active.subList(from, Math.min(active.size(), from + pass.maxRows()));
            long t0 = System.nanoTime();
            pass.decode(slice.stream().map(g -> (Sequence) g.sequence).toList(), slice.stream().mapToInt(g -> g.pendingToken).toArray());
            long shared = (System.nanoTime() - t0) / slice.size();
            for (int i = 0; i < slice.size(); i++) {
                Generation g = slice.get(i);
                long t1 = System.nanoTime();
                g.emitNext(activeListeners.get(from + i));
                g.decodeNanos += shared + System.nanoTime() - t1;
            }
        }
    }

    /** False (finishing it if the context is full) when this generation cannot take another step. */
    private boolean readyToStep(TokenListener listener) {
        if (finishReason != null) return false;
        if (pendingToken < 0) throw new IllegalStateException("prefill the prompt before generating");
        if (sequence.position() >= sequence.contextLength()) {
            finish(FinishReason.LENGTH, listener);
            return false;
        }
        return true;
    }

    /** After the pending token went through the model: sample from the sequence's logits and emit. */
    private void emitNext(TokenListener listener) {
        pendingToken = -1;
        int token = sampler.sample(sequence.logits());
        if (tokenizer.isEndOfGeneration(token)) {
            finish(FinishReason.STOP, listener);
            return;
        }
        if (count == generated.length) generated = Arrays.copyOf(generated, count * 2);
        generated[count] = token;
        String delta = stops.accept(detokenizer.push(token));
        text.append(delta);
        listener.onToken(count++, token, delta);
        pendingToken = token;
        if (stops.stopped()) {
            finish(FinishReason.STOP, listener);
        } else if (count >= params.maxTokens()) {
            finish(FinishReason.LENGTH, listener);
        }
    }

    private void finish(FinishReason reason, TokenListener listener) {
        finishReason = reason;
        String trailing = stops.stopped() ? "" : stops.accept(detokenizer.flush()) + stops.flush();
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

    public int[] promptTokenIds() {
        return prompt.clone();
    }

    public int[] generatedTokens() {
        return Arrays.copyOf(generated, count);
    }

    public int generatedCount() {
        return count;
    }

    public int promptTokens() {
        return prompt.length;
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
