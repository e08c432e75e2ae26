package dev.lethe.engine.model;

import dev.lethe.cache.KvCache;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.checkpoint.ModelIdentity;
import dev.lethe.engine.gguf.GgufFile;
import dev.lethe.engine.gguf.GgufReader;
import dev.lethe.engine.gguf.WeightResidence;
import dev.lethe.engine.tokenizer.Tokenizer;
import dev.lethe.engine.tokenizer.Tokenizers;
import java.nio.file.Path;

/**
 * A loaded model: configuration, memory-mapped weights and tokenizer. Thread-safe and shared by all the
 * sequences decoding on it; each {@link Sequence} holds its own KV cache and scratch state.
 */
public final class Model implements AutoCloseable {
    private final Path path;
    private final GgufFile gguf;
    private final ModelConfig config;
    private final ModelWeights weights;
    private final Tokenizer tokenizer;
    private final Rope rope;
    private final ModelIdentity identity;

    private Model(Path path, GgufFile gguf) {
        this.path = path;
        this.gguf = gguf;
        this.tokenizer = Tokenizers.fromGguf(gguf);
        this.config = ModelConfig.from(gguf, tokenizer.vocabularySize());
        this.weights = ModelLoader.load(gguf, config);
        this.rope = new Rope(config.headDim(), config.ropeTheta(), config.architecture().neoxRope(), weights.ropeFreqFactors());
        this.identity = ModelFingerprint.of(gguf, kvLayout());
    }

    /** Loads a GGUF model; every problem with the file is a {@link dev.lethe.engine.gguf.GgufFormatException}. */
    public static Model load(Path path) {
        return load(path, WeightResidence.fromSystemProperty());
    }

    /** Loads a GGUF model whose weights stay mapped or are copied into memory ({@link WeightResidence}). */
    public static Model load(Path path, WeightResidence residence) {
        GgufFile gguf = GgufReader.read(path, residence);
        try {
            return new Model(path, gguf);
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public GgufFile gguf() {
        return gguf;
    }

    public ModelConfig config() {
        return config;
    }

    public ModelWeights weights() {
        return weights;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    Rope rope() {
        return rope;
    }

    public KvLayout kvLayout() {
        return new KvLayout(config.layers(), config.kvHeads(), config.headDim());
    }

    /** What a checkpoint of this model's KV cache must match: weights, tokenizer and layout. */
    public ModelIdentity identity() {
        return identity;
    }

    /** A new sequence decoding into the given cache (which the sequence then owns and closes). */
    public Sequence newSequence(KvCache cache) {
        return resumeSequence(cache, 0);
    }

    /** A new sequence with a full (never pruned) cache. */
    public Sequence newSequence() {
        return newSequence(KvCaches.full(kvLayout()));
    }

    /**
     * A sequence continuing from a restored cache that holds the tokens at positions {@code 0..position-1}
     * (some possibly evicted); the next token fed takes {@code position}.
     */
    public Sequence resumeSequence(KvCache cache, int position) {
        KvLayout expected = kvLayout();
        if (!cache.layout().equals(expected)) {
            throw new IllegalArgumentException("KV cache layout " + cache.layout() + " does not match the model's " + expected);
        }
        if (position < 0 || position > config.contextLength()) {
            throw new IllegalArgumentException("position " + position + " is outside the context (0.." + config.contextLength() + ")");
        }
        return new Sequence(this, cache, position);
    }

    @Override
    public void close() {
        gguf.close();
    }
}
