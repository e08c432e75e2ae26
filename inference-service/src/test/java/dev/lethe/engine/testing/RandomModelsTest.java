package dev.lethe.engine.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.gguf.GgufFile;
import dev.lethe.engine.gguf.GgufReader;
import dev.lethe.engine.gguf.GgufTensorInfo;
import dev.lethe.engine.tensor.FloatTensor;
import dev.lethe.engine.tensor.Tensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RandomModelsTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({"llama, F32, false", "llama, Q4_0, true", "qwen2, Q8_0, false", "qwen3, F16, true", "qwen3, BF16, false"})
    void writesAModelTheReaderLoadsWithTheExpectedTensors(String arch, GgmlType type, boolean tied) throws IOException {
        ModelShape base = ModelShape.tiny(arch, type, 42);
        ModelShape s = new ModelShape(arch, base.dim(), base.layers(), base.heads(), base.kvHeads(), base.ffn(),
                base.vocab(), base.context(), type, 42, tied);
        Path path = dir.resolve(arch + ".gguf");
        RandomModels.write(s, path);
        try (GgufFile f = GgufReader.read(path)) {
            assertEquals(arch, f.getString("general.architecture"));
            assertEquals(64, f.getInt(arch + ".embedding_length"));
            assertEquals(2, f.getInt(arch + ".block_count"));
            assertEquals(128, f.getInt(arch + ".feed_forward_length"));
            assertEquals(4, f.getInt(arch + ".attention.head_count"));
            assertEquals(2, f.getInt(arch + ".attention.head_count_kv"));
            assertEquals(256, f.getInt(arch + ".context_length"));
            assertEquals(1e-5f, f.getFloat(arch + ".attention.layer_norm_rms_epsilon", 0));
            assertTrue(f.getFloat(arch + ".rope.freq_base", 0) > 0);

            Set<String> expected = new HashSet<>(Set.of("token_embd.weight", "output_norm.weight"));
            if (!tied) expected.add("output.weight");
            for (int l = 0; l < 2; l++) {
                for (String n : new String[] {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                        "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"}) {
                    expected.add("blk." + l + "." + n);
                }
                if (arch.equals("qwen2")) for (String n : new String[] {"attn_q.bias", "attn_k.bias", "attn_v.bias"}) expected.add("blk." + l + "." + n);
                if (arch.equals("qwen3")) for (String n : new String[] {"attn_q_norm.weight", "attn_k_norm.weight"}) expected.add("blk." + l + "." + n);
            }
            assertEquals(expected, f.tensors().keySet());
            long parameters = 0;
            for (GgufTensorInfo t : f.tensors().values()) parameters += t.elementCount();
            assertEquals(s.parameterCount(), parameters);

            // head dim 16, kv dim 32
            assertDims(f, "token_embd.weight", type, 64, 300);
            assertDims(f, "blk.1.attn_q.weight", type, 64, 64);
            assertDims(f, "blk.1.attn_k.weight", type, 64, 32);
            assertDims(f, "blk.1.attn_v.weight", type, 64, 32);
            assertDims(f, "blk.1.attn_output.weight", type, 64, 64);
            assertDims(f, "blk.0.ffn_gate.weight", type, 64, 128);
            assertDims(f, "blk.0.ffn_down.weight", type, 128, 64);
            assertDims(f, "blk.0.attn_norm.weight", GgmlType.F32, 64);
            if (arch.equals("qwen2")) assertDims(f, "blk.0.attn_k.bias", GgmlType.F32, 32);
            if (arch.equals("qwen3")) assertDims(f, "blk.0.attn_q_norm.weight", GgmlType.F32, 16);

            assertStd(Tensors.of(f.tensor("blk.0.ffn_up.weight")), 0, 0.02);
            assertStd(Tensors.of(f.tensor("output_norm.weight")), 1, 0.05);
        }
    }

    @Test
    void tokenizerFollowsLlamaCppConventions() throws IOException {
        Path path = dir.resolve("tok.gguf");
        RandomModels.write(ModelShape.tiny("llama", GgmlType.F32, 1), path);
        try (GgufFile f = GgufReader.read(path)) {
            assertEquals("llama", f.getString("tokenizer.ggml.model"));
            String[] tokens = (String[]) f.require("tokenizer.ggml.tokens");
            float[] scores = (float[]) f.require("tokenizer.ggml.scores");
            int[] types = (int[]) f.require("tokenizer.ggml.token_type");
            assertEquals(300, tokens.length);
            assertEquals(300, scores.length);
            assertEquals(300, types.length);
            assertArrayEquals(new String[] {"<unk>", "<s>", "</s>", "<0x00>"}, java.util.Arrays.copyOf(tokens, 4));
            assertEquals("<0xFF>", tokens[258]);
            assertArrayEquals(new int[] {2, 3, 3, 6}, java.util.Arrays.copyOf(types, 4));
            assertEquals(6, types[258]);
            assertEquals(1, types[259]);
            assertEquals(300, new HashSet<>(java.util.List.of(tokens)).size(), "tokens are distinct");
            assertEquals(1, f.getInt("tokenizer.ggml.bos_token_id"));
            assertEquals(2, f.getInt("tokenizer.ggml.eos_token_id"));
        }
    }

    @Test
    void theSeedDecidesTheBytes() throws IOException {
        Path a = dir.resolve("a.gguf"), b = dir.resolve("b.gguf"), c = dir.resolve("c.gguf");
        RandomModels.write(ModelShape.tiny("llama", GgmlType.Q8_0, 7), a);
        RandomModels.write(ModelShape.tiny("llama", GgmlType.Q8_0, 7), b);
        RandomModels.write(ModelShape.tiny("llama", GgmlType.Q8_0, 8), c);
        assertEquals(-1, Files.mismatch(a, b));
        assertFalse(Files.mismatch(a, c) == -1);
    }

    @Test
    void rejectsShapesThatCannotBeBuilt() {
        assertThrows(IllegalArgumentException.class, () -> new ModelShape("gpt2", 64, 1, 4, 2, 128, 300, 16, GgmlType.F32, 0, false));
        assertThrows(IllegalArgumentException.class, () -> new ModelShape("llama", 64, 1, 4, 3, 128, 300, 16, GgmlType.F32, 0, false));
        assertThrows(IllegalArgumentException.class, () -> new ModelShape("llama", 48, 1, 4, 2, 128, 300, 16, GgmlType.Q8_0, 0, false));
        assertThrows(IllegalArgumentException.class, () -> new ModelShape("llama", 64, 1, 4, 2, 128, 100, 16, GgmlType.F32, 0, false));
    }

    private static void assertDims(GgufFile f, String name, GgmlType type, long... dims) {
        GgufTensorInfo t = f.tensor(name);
        assertArrayEquals(dims, t.dims(), name);
        assertEquals(type, t.type(), name);
    }

    private static void assertStd(FloatTensor t, double mean, double std) {
        double sum = 0, sq = 0;
        for (long i = 0; i < t.size(); i++) {
            sum += t.getFloat(i);
            sq += (double) t.getFloat(i) * t.getFloat(i);
        }
        double m = sum / t.size();
        double s = Math.sqrt(sq / t.size() - m * m);
        assertEquals(mean, m, 0.2 * std + 0.01 * Math.abs(mean));
        assertEquals(std, s, 0.2 * std);
    }
}
