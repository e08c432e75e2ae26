package dev.lethe.cache;

import java.util.Arrays;

/**
 * Records every layer's retained length after every step: the data for a retention-over-time plot.
 * Samples are stored in flat growable arrays (four ints a sample), not as objects.
 */
public final class RetentionHistory implements KvCacheListener {

    /** One layer's length after one step. */
    public record Sample(long step, int layer, int retained, int fullLength) {
    }

    private int[] data = new int[256];
    private long[] steps = new long[64];
    private int size;

    @Override
    public void stepEnded(long step, int layer, int retained, int fullLength) {
        if (size == steps.length) {
            steps = Arrays.copyOf(steps, size * 2);
            data = Arrays.copyOf(data, size * 6);
        }
        steps[size] = step;
        data[3 * size] = layer;
        data[3 * size + 1] = retained;
        data[3 * size + 2] = fullLength;
        size++;
    }

    public int size() {
        return size;
    }

    public Sample sample(int index) {
        if (index < 0 || index >= size) throw new IndexOutOfBoundsException("sample " + index + " of " + size);
        return new Sample(steps[index], data[3 * index], data[3 * index + 1], data[3 * index + 2]);
    }

    /** One layer's retained length after each recorded step, in order. */
    public int[] retained(int layer) {
        int[] out = new int[size];
        int n = 0;
        for (int i = 0; i < size; i++) if (data[3 * i] == layer) out[n++] = data[3 * i + 1];
        return Arrays.copyOf(out, n);
    }
}
