package dev.lethe.cache;

/**
 * Hoyer sparsity of a non-negative vector, {@code (√n − ‖a‖₁/‖a‖₂)/(√n − 1)}: 0 when all entries are equal,
 * 1 when one entry holds everything. The Lethe paper uses it to show that attention sparsity is not monotone
 * across layers; we expose it per layer as a metric.
 */
public final class Hoyer {
    private Hoyer() {
    }

    /** Sparsity of {@code a[0..n-1]}; 0 for {@code n ≤ 1} or an all-zero vector, where it is undefined. */
    public static double sparsity(float[] a, int n) {
        if (n <= 1) return 0;
        double l1 = 0;
        double l2 = 0;
        for (int i = 0; i < n; i++) {
            l1 += Math.abs(a[i]);
            l2 += (double) a[i] * a[i];
        }
        if (l2 == 0) return 0;
        double root = Math.sqrt(n);
        return (root - l1 / Math.sqrt(l2)) / (root - 1);
    }
}
