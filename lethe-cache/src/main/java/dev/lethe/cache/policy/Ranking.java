package dev.lethe.cache.policy;

import java.util.Arrays;

/** Orders slots by score and assembles keep sets; shared by the policies. */
final class Ranking {
    private Ranking() {
    }

    /**
     * The slots {@code from..to-1} ordered by {@code score[slot]} descending; equal scores put the newer
     * (higher) slot first, so ties favour recency and the order is deterministic.
     */
    static int[] descending(float[] score, int from, int to) {
        int n = to - from;
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            int slot = from + i;
            keys[i] = ((long) sortableBits(score[slot]) << 32) | slot;
        }
        Arrays.sort(keys);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = (int) keys[n - 1 - i];
        return order;
    }

    /** An int whose signed order is the float order (NaN above +infinity). */
    private static int sortableBits(float value) {
        int bits = Float.floatToRawIntBits(value);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }

    /**
     * The keep set, ascending: slots {@code 0..sinks-1}, slots {@code length-recent..length-1}, and the first
     * {@code count} slots of {@code ranked}.
     */
    static int[] keep(int length, int sinks, int recent, int[] ranked, int count) {
        boolean[] kept = new boolean[length];
        for (int s = 0; s < sinks; s++) kept[s] = true;
        for (int s = length - recent; s < length; s++) kept[s] = true;
        for (int i = 0; i < count; i++) kept[ranked[i]] = true;
        int total = 0;
        for (boolean k : kept) if (k) total++;
        int[] slots = new int[total];
        for (int s = 0, i = 0; s < length; s++) if (kept[s]) slots[i++] = s;
        return slots;
    }

    static int ceilFraction(double ratio, int n) {
        // the epsilon keeps 0.3 * 10 at 3 instead of rounding 3.0000000000000004 up to 4
        return (int) Math.ceil(ratio * n - 1e-9);
    }
}
