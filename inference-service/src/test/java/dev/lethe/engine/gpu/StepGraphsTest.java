package dev.lethe.engine.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What makes two steps share a recorded graph: {@link StepGraphs.Key}'s equality (no GPU needed). */
class StepGraphsTest {
    private final Random random = new Random();

    private int[] lengths(int layers) {
        int[] a = new int[layers];
        for (int i = 0; i < layers; i++) a[i] = 256 * (1 + random.nextInt(32));
        return a;
    }

    @Test
    void keysOfEqualContentAreEqualWhateverArrayTheyCameFrom() {
        for (int round = 0; round < 200; round++) {
            int n = 1 + random.nextInt(128);
            float gamma = random.nextBoolean() ? -1f : random.nextFloat();
            int[] lengths = lengths(1 + random.nextInt(40));
            StepGraphs.Key a = new StepGraphs.Key(n, gamma, lengths), b = new StepGraphs.Key(n, gamma, lengths.clone());
            assertEquals(a, b);
            assertEquals(a.hashCode(), b.hashCode());
            assertEquals(a.toString(), b.toString());
        }
    }

    @Test
    void keysDifferingInBatchGammaOrAnyLayersLengthDiffer() {
        for (int round = 0; round < 200; round++) {
            int n = 1 + random.nextInt(127);
            float gamma = random.nextFloat();
            int[] lengths = lengths(1 + random.nextInt(40));
            StepGraphs.Key key = new StepGraphs.Key(n, gamma, lengths);
            assertNotEquals(key, new StepGraphs.Key(n + 1, gamma, lengths));
            assertNotEquals(key, new StepGraphs.Key(n, -1f, lengths), "scoring and not scoring record different launches");
            assertNotEquals(key, new StepGraphs.Key(n, Math.nextUp(gamma), lengths));
            int[] other = lengths.clone();
            other[random.nextInt(other.length)] += 256;
            assertNotEquals(key, new StepGraphs.Key(n, gamma, other));
            int[] shorter = java.util.Arrays.copyOf(lengths, lengths.length - 1);
            assertNotEquals(key, new StepGraphs.Key(n, gamma, shorter));
        }
    }

    @Test
    void aKeyInAMapFindsItsGraphAfterTheCallerReusesItsArray() {
        int[] lengths = lengths(32);
        Map<StepGraphs.Key, String> graphs = new HashMap<>();
        graphs.put(new StepGraphs.Key(16, -1f, lengths), "recorded");
        int[] original = lengths.clone();
        lengths[0] += 256; // the decoder's next step, reusing the array
        assertNull(graphs.get(new StepGraphs.Key(16, -1f, lengths)));
        assertEquals("recorded", graphs.get(new StepGraphs.Key(16, -1f, original)));
        assertEquals(original[0], graphs.keySet().iterator().next().attentionLengths()[0]);
    }
}
