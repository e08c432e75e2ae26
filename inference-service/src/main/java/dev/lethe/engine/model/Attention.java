package dev.lethe.engine.model;

import dev.lethe.cache.KvCache;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal multi-head attention (grouped-query: query head {@code h} reads KV head {@code h / (heads/kvHeads)})
 * over one layer's retained cache entries. It keeps each query head's softmax probabilities and hands them
 * to the cache, so that eviction policies see exactly the attention the model used.
 */
final class Attention {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Below this much work (queries x heads x slots) the heads are not worth splitting between threads. */
    private static final long PARALLEL_MIN_WORK = 1 << 15;

    private final ModelConfig c;
    private final KvCache cache;
    private final float scale;
    private float[] probabilities = new float[0];

    Attention(ModelConfig config, KvCache cache) {
        this.c = config;
        this.cache = cache;
        this.scale = (float) (1.0 / Math.sqrt(config.headDim()));
    }

    /**
     * Attends the {@code n} queries in rows {@code firstRow..firstRow+n-1} of {@code q} (rotated,
     * [row][heads*headDim]), whose keys and values were just appended to the cache, and writes the weighted
     * values to the same rows of {@code out}.
     */
    void run(int layer, float[] q, int firstRow, int n, float[] out) {
        int length = cache.length(layer);
        int heads = c.heads();
        if (probabilities.length < n * heads * length) {
            probabilities = new float[Math.max(n * heads * length, probabilities.length * 3 / 2)];
        }
        MemorySegment keys = cache.keys(layer);
        MemorySegment values = cache.values(layer);
        float[] probs = probabilities;
        if ((long) n * heads * length < PARALLEL_MIN_WORK) {
            for (int i = 0; i < n * heads; i++) head(i, q, firstRow, n, length, keys, values, probs, out);
        } else {
            IntStream.range(0, n * heads).parallel().forEach(i -> head(i, q, firstRow, n, length, keys, values, probs, out));
        }
        cache.observeAttention(layer, probs, n, heads);
    }

    /** Query {@code i / heads}, head {@code i % heads}. */
    private void head(int i, float[] q, int firstRow, int n, int length, MemorySegment keys, MemorySegment values, float[] probs, float[] out) {
        int t = i / c.heads();
        int h = i % c.heads();
        int hd = c.headDim();
        int kvh = h / (c.heads() / c.kvHeads());
        int qOffset = (firstRow + t) * c.qDim() + h * hd;
        int rowBase = i * length;
        // The chunk's own tokens are the last n slots, in order: query t sees every slot up to its own.
        int visible = length - n + 1 + t;
        float max = Float.NEGATIVE_INFINITY;
        for (int s = 0; s < visible; s++) {
            long kOffset = ((long) s * c.kvDim() + (long) kvh * hd) * Float.BYTES;
            float score = dot(q, qOffset, keys, kOffset, hd) * scale;
            probs[rowBase + s] = score;
            if (score > max) max = score;
        }
        float sum = 0;
        for (int s = 0; s < visible; s++) {
            float e = (float) Math.exp(probs[rowBase + s] - max);
            probs[rowBase + s] = e;
            sum += e;
        }
        float inv = 1f / sum;
        int oOffset = (firstRow + t) * c.qDim() + h * hd;
        Arrays.fill(out, oOffset, oOffset + hd, 0f);
        for (int s = 0; s < visible; s++) {
            float p = probs[rowBase + s] * inv;
            probs[rowBase + s] = p;
            long vOffset = ((long) s * c.kvDim() + (long) kvh * hd) * Float.BYTES;
            axpy(p, values, vOffset, out, oOffset, hd);
        }
        Arrays.fill(probs, rowBase + visible, rowBase + length, 0f);
    }

    private static float dot(float[] a, int aOffset, MemorySegment b, long bByteOffset, int n) {
        int upper = SPECIES.loopBound(n);
        FloatVector acc = FloatVector.zero(SPECIES);
        int i = 0;
        for (; i < upper; i += SPECIES.length()) {
            FloatVector bv = FloatVector.fromMemorySegment(SPECIES, b, bByteOffset + (long) i * Float.BYTES, ByteOrder.nativeOrder());
            acc = FloatVector.fromArray(SPECIES, a, aOffset + i).fma(bv, acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[aOffset + i] * b.get(ValueLayout.JAVA_FLOAT_UNALIGNED, bByteOffset + (long) i * Float.BYTES);
        }
        return sum;
    }

    /** {@code out[outOffset..] += p * b[..]}. */
    private static void axpy(float p, MemorySegment b, long bByteOffset, float[] out, int outOffset, int n) {
        int upper = SPECIES.loopBound(n);
        int i = 0;
        for (; i < upper; i += SPECIES.length()) {
            FloatVector bv = FloatVector.fromMemorySegment(SPECIES, b, bByteOffset + (long) i * Float.BYTES, ByteOrder.nativeOrder());
            bv.fma(FloatVector.broadcast(SPECIES, p), FloatVector.fromArray(SPECIES, out, outOffset + i)).intoArray(out, outOffset + i);
        }
        for (; i < n; i++) {
            out[outOffset + i] += p * b.get(ValueLayout.JAVA_FLOAT_UNALIGNED, bByteOffset + (long) i * Float.BYTES);
        }
    }
}
