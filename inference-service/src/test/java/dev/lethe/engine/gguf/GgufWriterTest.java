package dev.lethe.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.gguf.GgufWriter.TensorSource;
import dev.lethe.engine.tensor.FloatTensor;
import dev.lethe.engine.tensor.Tensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufWriterTest {
    @TempDir
    Path dir;

    private static Map<String, Object> everyKindOfValue() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("general.architecture", "llama");
        m.put("general.name", "ünïcødé ✓");
        m.put("llama.block_count", 7);
        m.put("negative", -3);
        m.put("big", 1L << 40);
        m.put("eps", 1e-5f);
        m.put("precise", Math.PI);
        m.put("flag", true);
        m.put("off", false);
        m.put("tokens", new String[] {"<unk>", "a", "", "✓"});
        m.put("ids", new int[] {1, -2, 3});
        m.put("longs", new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE});
        m.put("scores", new float[] {0f, -1.5f, Float.MAX_VALUE});
        m.put("doubles", new double[] {1e300, -0.0});
        m.put("bytes", new byte[] {-128, 0, 127});
        m.put("shorts", new short[] {-32768, 1, 32767});
        m.put("bools", new boolean[] {true, false, true});
        m.put("nested", new Object[] {new int[] {1, 2}, new String[] {"x"}});
        m.put("empty", new int[0]);
        return m;
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    @Test
    void metadataAndTensorsRoundTrip() throws IOException {
        Map<String, Object> metadata = everyKindOfValue();
        float[] f32 = random(3 * 5, 1);
        float[] f16 = random(64 * 3, 2);
        float[] bf16 = random(7, 3);
        float[] q8 = random(64 * 2, 4);
        float[] q4 = random(32 * 5, 5);
        List<TensorSource> tensors = List.of(
                TensorSource.of("odd.f32", new long[] {5, 3}, GgmlType.F32, f32),
                TensorSource.of("a.f16", new long[] {64, 3}, GgmlType.F16, f16),
                TensorSource.of("b.bf16", new long[] {7}, GgmlType.BF16, bf16),
                TensorSource.of("c.q8", new long[] {64, 1, 2}, GgmlType.Q8_0, q8),
                TensorSource.of("d.q4", new long[] {32, 5}, GgmlType.Q4_0, q4));
        Path path = dir.resolve("m.gguf");
        GgufWriter.write(path, metadata, tensors);

        try (GgufFile file = GgufReader.read(path)) {
            assertEquals(3, file.version());
            assertEquals(metadata.keySet().stream().toList(), file.metadata().keySet().stream().toList());
            for (String key : metadata.keySet()) {
                assertTrue(java.util.Objects.deepEquals(metadata.get(key), file.metadata().get(key)), "metadata " + key);
            }
            assertEquals(List.of("odd.f32", "a.f16", "b.bf16", "c.q8", "d.q4"), file.tensors().keySet().stream().toList());
            for (TensorSource t : tensors) {
                GgufTensorInfo info = file.tensor(t.name());
                assertArrayEquals(t.dims(), info.dims(), t.name());
                assertEquals(t.type(), info.type(), t.name());
                assertEquals(0, info.offset() % 32, t.name() + " is aligned");
                FloatTensor read = Tensors.of(info);
                float[] values = t.values().get();
                float step = t.type() == GgmlType.Q4_0 ? 0.6f : t.type() == GgmlType.Q8_0 ? 0.03f : 0.02f;
                for (int i = 0; i < values.length; i++) {
                    if (t.type() == GgmlType.F32) assertEquals(values[i], read.getFloat(i));
                    else assertEquals(values[i], read.getFloat(i), step * Math.max(1, Math.abs(values[i])), t.name() + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void honoursALargerAlignment() throws IOException {
        Path path = dir.resolve("aligned.gguf");
        GgufWriter.write(path, Map.of("general.alignment", 256), List.of(
                TensorSource.of("a", new long[] {3}, GgmlType.F32, new float[] {1, 2, 3}),
                TensorSource.of("b", new long[] {2}, GgmlType.F32, new float[] {4, 5})));
        try (GgufFile file = GgufReader.read(path)) {
            assertEquals(256, file.tensor("b").offset());
            assertEquals(5f, Tensors.of(file.tensor("b")).getFloat(1));
        }
    }

    @Test
    void refusesValuesTheReaderWouldNotReturnEqual() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> GgufWriter.write(dir.resolve("x.gguf"), Map.of("k", (short) 3), List.of()));
        assertTrue(e.getMessage().contains("'k'") && e.getMessage().contains("Short"), e.getMessage());
    }

    @Test
    void refusesBadTensors() {
        assertThrows(IllegalArgumentException.class, () -> TensorSource.of("q", new long[] {33}, GgmlType.Q8_0, new float[33]));
        assertThrows(IllegalArgumentException.class, () -> TensorSource.of("k", new long[] {256}, GgmlType.Q4_K, new float[256]));
        var e = assertThrows(IllegalArgumentException.class, () -> GgufWriter.write(dir.resolve("y.gguf"), Map.of(),
                List.of(TensorSource.of("short", new long[] {4}, GgmlType.F32, new float[3]))));
        assertTrue(e.getMessage().contains("'short'"), e.getMessage());
    }

    @Test
    void streamsEachTensorOnlyWhenItsTurnComes() throws IOException {
        int[] calls = {0};
        List<TensorSource> tensors = List.of(
                new TensorSource("a", new long[] {32}, GgmlType.F16, () -> { calls[0]++; return new float[32]; }),
                new TensorSource("b", new long[] {32}, GgmlType.F16, () -> { calls[0]++; return new float[32]; }));
        GgufWriter.write(dir.resolve("s.gguf"), Map.of(), tensors);
        assertEquals(2, calls[0]);
        assertEquals(0, Files.size(dir.resolve("s.gguf")) % 32);
    }
}
