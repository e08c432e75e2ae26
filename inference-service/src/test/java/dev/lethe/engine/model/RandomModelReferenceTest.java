package dev.lethe.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvCaches;
import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.testing.ModelShape;
import dev.lethe.engine.testing.RandomModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every architecture and weight type against {@link ReferenceForwardPass} (double precision, no cache, no
 * shared kernels) on small random models written by the GGUF writer. Quantized models are compared with the
 * reference run on their dequantized weights, so the tolerance covers float32 arithmetic only.
 */
class RandomModelReferenceTest {
    private static final int TOKENS = 40; // more than two prefill chunks

    static Stream<Arguments> models() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (String arch : new String[] {"llama", "qwen2", "qwen3"}) {
            for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0}) {
                b.add(Arguments.of(arch, type));
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("models")
    void decodeAndChunkedPrefillMatchTheDoublePrecisionReference(String arch, GgmlType type, @TempDir Path dir) throws IOException {
        Path file = dir.resolve("model.gguf");
        RandomModels.write(ModelShape.tiny(arch, type, 11), file);
        try (Model model = Model.load(file)) {
            int[] tokens = new Random(5).ints(TOKENS, 3, model.config().vocabularySize()).toArray();
            double[][] expected = new ReferenceForwardPass(model).logits(tokens);
            try (Sequence decode = model.newSequence(KvCaches.full(model.kvLayout()))) {
                for (int t = 0; t < TOKENS; t++) assertClose(expected[t], decode.forward(tokens[t]), arch + " " + type + " decode position " + t);
            }
            try (Sequence prefill = model.newSequence(KvCaches.full(model.kvLayout()))) {
                float[] last = prefill.prefill(tokens);
                assertClose(expected[TOKENS - 1], last, arch + " " + type + " chunked prefill");
            }
        }
    }

    private static void assertClose(double[] expected, float[] actual, String what) {
        double worst = 0;
        double scale = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        assertTrue(scale > 1e-3, what + ": logits are all near zero, the comparison would prove nothing");
        assertTrue(worst <= 1e-4 + 1e-4 * scale, what + ": max |logit difference| " + worst + " (largest logit " + scale + ")");
        assertArrayEquals(new int[] {argmax(expected)}, new int[] {argmax(actual)}, what + ": top token");
    }

    private static int argmax(double[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
