package dev.lethe.engine.testing;

import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.gguf.GgufWriter;
import dev.lethe.engine.gguf.GgufWriter.TensorSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Writes GGUF models with random weights and llama.cpp's tensor names and metadata keys, for tests and
 * benchmarks that need a model of a given shape and weight type rather than a trained one.
 *
 * <p>Weight matrices are uniform with standard deviation 0.02 (as in GPT-2's initialisation), norm weights
 * are near 1 and biases small, so activations keep sane magnitudes through many layers. Norm weights and
 * biases are F32, as in llama.cpp's own files. Every tensor is generated when the writer reaches it, from a
 * seed derived from the model's seed and the tensor's name, so a model larger than the heap can be written and
 * the same shape always gives the same bytes.
 */
public final class RandomModels {
    private static final double WEIGHT_STD = 0.02;
    /** Values generated per random stream: tensors fill in parallel, chunk by chunk, and stay deterministic. */
    private static final int CHUNK = 1 << 16;

    private RandomModels() {}

    public static void write(ModelShape shape, Path path) throws IOException {
        GgufWriter.write(path, metadata(shape), tensors(shape));
    }

    static Map<String, Object> metadata(ModelShape s) {
        String a = s.arch();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("general.architecture", a);
        m.put("general.name", "random " + a + " " + s.dim() + "x" + s.layers() + " " + s.weightType() + " seed " + s.seed());
        m.put(a + ".context_length", s.context());
        m.put(a + ".embedding_length", s.dim());
        m.put(a + ".block_count", s.layers());
        m.put(a + ".feed_forward_length", s.ffn());
        m.put(a + ".attention.head_count", s.heads());
        m.put(a + ".attention.head_count_kv", s.kvHeads());
        m.put(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
        m.put(a + ".rope.freq_base", a.equals("llama") ? 10000f : 1000000f);
        m.put(a + ".rope.dimension_count", s.headDim());
        Vocabulary v = vocabulary(s.vocab());
        m.put("tokenizer.ggml.model", "llama");
        m.put("tokenizer.ggml.tokens", v.tokens());
        m.put("tokenizer.ggml.scores", v.scores());
        m.put("tokenizer.ggml.token_type", v.types());
        m.put("tokenizer.ggml.unknown_token_id", 0);
        m.put("tokenizer.ggml.bos_token_id", 1);
        m.put("tokenizer.ggml.eos_token_id", 2);
        return m;
    }

    /** llama.cpp's token types. */
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, BYTE = 6;

    record Vocabulary(String[] tokens, float[] scores, int[] types) {}

    /**
     * {@code <unk> <s> </s>}, the 256 byte tokens {@code <0x00>..<0xFF>}, then distinct lowercase pieces (every
     * other one with SentencePiece's word-start mark) scored so that earlier, shorter pieces are preferred.
     */
    static Vocabulary vocabulary(int size) {
        String[] tokens = new String[size];
        float[] scores = new float[size];
        int[] types = new int[size];
        tokens[0] = "<unk>";
        types[0] = UNKNOWN;
        tokens[1] = "<s>";
        types[1] = CONTROL;
        tokens[2] = "</s>";
        types[2] = CONTROL;
        for (int b = 0; b < 256; b++) {
            tokens[3 + b] = String.format("<0x%02X>", b);
            types[3 + b] = BYTE;
        }
        for (int i = ModelShape.MIN_VOCAB, k = 0; i < size; i++, k++) {
            tokens[i] = (k % 2 == 0 ? "\u2581" : "") + letters(k / 2);
            scores[i] = -k;
            types[i] = NORMAL;
        }
        return new Vocabulary(tokens, scores, types);
    }

    /** 0 -> "a", 25 -> "z", 26 -> "aa", ...: a distinct string for every k. */
    private static String letters(int k) {
        StringBuilder sb = new StringBuilder();
        for (int n = k + 1; n > 0; n = (n - 1) / 26) sb.append((char) ('a' + (n - 1) % 26));
        return sb.reverse().toString();
    }

    static List<TensorSource> tensors(ModelShape s) {
        List<TensorSource> t = new ArrayList<>();
        GgmlType w = s.weightType();
        int qDim = s.heads() * s.headDim();
        t.add(matrix(s, "token_embd.weight", s.dim(), s.vocab(), w));
        t.add(norm(s, "output_norm.weight", s.dim()));
        if (!s.tiedEmbeddings()) t.add(matrix(s, "output.weight", s.dim(), s.vocab(), w));
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            t.add(norm(s, p + "attn_norm.weight", s.dim()));
            t.add(matrix(s, p + "attn_q.weight", s.dim(), qDim, w));
            t.add(matrix(s, p + "attn_k.weight", s.dim(), s.kvDim(), w));
            t.add(matrix(s, p + "attn_v.weight", s.dim(), s.kvDim(), w));
            if (s.arch().equals("qwen2")) {
                t.add(bias(s, p + "attn_q.bias", qDim));
                t.add(bias(s, p + "attn_k.bias", s.kvDim()));
                t.add(bias(s, p + "attn_v.bias", s.kvDim()));
            }
            if (s.arch().equals("qwen3")) {
                t.add(norm(s, p + "attn_q_norm.weight", s.headDim()));
                t.add(norm(s, p + "attn_k_norm.weight", s.headDim()));
            }
            t.add(matrix(s, p + "attn_output.weight", qDim, s.dim(), w));
            t.add(norm(s, p + "ffn_norm.weight", s.dim()));
            t.add(matrix(s, p + "ffn_gate.weight", s.dim(), s.ffn(), w));
            t.add(matrix(s, p + "ffn_up.weight", s.dim(), s.ffn(), w));
            t.add(matrix(s, p + "ffn_down.weight", s.ffn(), s.dim(), w));
        }
        return t;
    }

    /** A {@code rows x cols} matrix, given ggml-style as dims {cols, rows}. */
    private static TensorSource matrix(ModelShape s, String name, int cols, int rows, GgmlType type) {
        return new TensorSource(name, new long[] {cols, rows}, type, () -> uniform(s, name, Math.multiplyExact(cols, rows), 0, WEIGHT_STD));
    }

    private static TensorSource norm(ModelShape s, String name, int n) {
        return new TensorSource(name, new long[] {n}, GgmlType.F32, () -> uniform(s, name, n, 1, 0.05));
    }

    private static TensorSource bias(ModelShape s, String name, int n) {
        return new TensorSource(name, new long[] {n}, GgmlType.F32, () -> uniform(s, name, n, 0, WEIGHT_STD));
    }

    /** {@code n} uniform values of the given mean and standard deviation, seeded by model seed and tensor name. */
    private static float[] uniform(ModelShape s, String name, int n, double mean, double std) {
        float[] values = new float[n];
        double halfWidth = std * Math.sqrt(3); // a uniform on [-h, h] has standard deviation h / sqrt(3)
        long tensorSeed = new SplittableRandom(s.seed()).nextLong() ^ name.hashCode() * 0x9E3779B97F4A7C15L;
        IntStream.range(0, (n + CHUNK - 1) / CHUNK).parallel().forEach(c -> {
            SplittableRandom random = new SplittableRandom(tensorSeed + c * 0xBF58476D1CE4E5B9L);
            for (int i = c * CHUNK; i < (int) Math.min(n, (c + 1L) * CHUNK); i++) {
                values[i] = (float) (mean + random.nextDouble(-halfWidth, halfWidth));
            }
        });
        return values;
    }
}
