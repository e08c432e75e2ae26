package dev.lethe.engine.model;

/**
 * Rotary position embedding. Pair {@code i} of a head (dimensions (2i, 2i+1), or (i, i + headDim/2) in the
 * NeoX style) is rotated by the angle {@code position * theta^(-2i/headDim)}, optionally divided by a
 * per-pair frequency factor (llama 3 long-context scaling).
 */
final class Rope {
    private final int headDim;
    private final boolean neox;
    private final double[] inverseFrequency;

    Rope(int headDim, float theta, boolean neox, float[] frequencyFactors) {
        this.headDim = headDim;
        this.neox = neox;
        this.inverseFrequency = new double[headDim / 2];
        for (int i = 0; i < headDim / 2; i++) {
            double f = Math.pow(theta, -2.0 * i / headDim);
            inverseFrequency[i] = frequencyFactors == null ? f : f / frequencyFactors[i];
        }
    }

    /** Fills {@code cos[at + i]}, {@code sin[at + i]} for each pair {@code i} at this position. */
    void angles(int position, float[] cos, float[] sin, int at) {
        for (int i = 0; i < inverseFrequency.length; i++) {
            double angle = position * inverseFrequency[i];
            cos[at + i] = (float) Math.cos(angle);
            sin[at + i] = (float) Math.sin(angle);
        }
    }

    /** Rotates {@code heads} consecutive heads of {@code x} starting at {@code offset}, in place, by the angles at {@code at}. */
    void rotate(float[] x, int offset, int heads, float[] cos, float[] sin, int at) {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < half; i++) {
                int a = neox ? base + i : base + 2 * i;
                int b = neox ? base + i + half : base + 2 * i + 1;
                float x0 = x[a];
                float x1 = x[b];
                x[a] = x0 * cos[at + i] - x1 * sin[at + i];
                x[b] = x0 * sin[at + i] + x1 * cos[at + i];
            }
        }
    }
}
