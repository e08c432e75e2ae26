package dev.lethe.cache.checkpoint;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCacheStats;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.Synthetic;
import dev.lethe.cache.policy.PolicySpec;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class CheckpointCodecTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 3);
    private static final ModelIdentity MODEL = new ModelIdentity("model-sha-abc", "tokenizer-sha-def", LAYOUT);
    private static final SequenceState SEQUENCE = new SequenceState(new int[]{1, 15, 27, 99}, new int[]{5, 6, 7},
            2, new SamplerState(0.7f, 0.9f, 40, 0.05f, 1234L, 0x5DEECE66DL));

    /** A cache that has run {@code steps} decode steps after a prompt of {@code prompt}, with attention. */
    private static OffHeapKvCache run(KvLayout layout, PolicySpec spec, int prompt, int steps, long seed, KvBlockPool pool) {
        var cache = KvCaches.create(layout, spec, pool);
        advance(cache, 0, prompt, steps, new Random(seed));
        return cache;
    }

    private static void advance(OffHeapKvCache cache, int from, int prompt, int steps, Random random) {
        int heads = cache.layout().kvHeads() * 2;
        if (from == 0) {
            Synthetic.appendAll(cache, 0, prompt);
            for (int l = 0; l < cache.layout().layers(); l++) Synthetic.observe(cache, l, prompt, heads, 2.0 + l, random);
            cache.endStep();
            from = prompt;
        }
        for (int p = from; p < from + steps; p++) {
            Synthetic.appendAll(cache, p, p + 1);
            for (int l = 0; l < cache.layout().layers(); l++) Synthetic.observe(cache, l, 1, heads, 2.0 + l, random);
            cache.endStep();
        }
    }

    private static byte[] write(OffHeapKvCache cache) throws IOException {
        var out = new ByteArrayOutputStream();
        var info = CheckpointCodec.write(out, MODEL, cache, SEQUENCE);
        byte[] bytes = out.toByteArray();
        assertEquals(bytes.length, info.bytes());
        return bytes;
    }

    private static RestoredCheckpoint read(byte[] bytes, KvBlockPool pool) throws IOException {
        return CheckpointCodec.read(new ByteArrayInputStream(bytes), MODEL, pool);
    }

    @Test
    void roundTripIsBitExactAndBothCachesContinueIdentically() throws IOException {
        for (var spec : List.of(PolicySpec.of("lethe", "delta", "4", "sparse-ratio", "20"),
                PolicySpec.of("snapkv", "budget", "12", "window", "3", "interval", "5"),
                PolicySpec.of("rkv", "budget", "12", "interval", "4"), PolicySpec.of("h2o", "budget-ratio", "0.4"),
                PolicySpec.of("tova", "budget", "9"), PolicySpec.of("streamingllm", "budget", "10"), PolicySpec.full())) {
            var pool = KvBlockPool.unbounded(LAYOUT);
            try (var original = run(LAYOUT, spec, 20, 40, 5, pool)) {
                if (!spec.name().equals("full")) assertTrue(original.stats().totalRounds() > 0, spec + " pruned before the checkpoint");
                byte[] bytes = write(original);
                try (var restored = read(bytes, pool).cache()) {
                    assertSameState(original, restored, spec.toString());
                    advance(original, 60, 0, 30, new Random(99));
                    advance(restored, 60, 0, 30, new Random(99));
                    assertSameState(original, restored, spec + " after 30 more steps");
                }
            }
            assertEquals(0, pool.usedBlocks());
        }
    }

    @Test
    void headerSequenceAndDigestComeBack() throws Exception {
        try (var cache = run(LAYOUT, PolicySpec.of("lethe"), 10, 5, 1, KvBlockPool.unbounded(LAYOUT))) {
            var out = new ByteArrayOutputStream();
            var info = CheckpointCodec.write(out, MODEL, cache, SEQUENCE);
            byte[] bytes = out.toByteArray();
            byte[] body = Arrays.copyOf(bytes, bytes.length - 32);
            byte[] sha = MessageDigest.getInstance("SHA-256").digest(body);
            assertArrayEquals(sha, info.sha256());
            assertArrayEquals(sha, Arrays.copyOfRange(bytes, bytes.length - 32, bytes.length));
            var restored = read(bytes, KvBlockPool.unbounded(LAYOUT));
            try (var c = restored.cache()) {
                assertSameState(cache, c, "lethe");
                assertEquals(SEQUENCE, restored.sequence());
                assertEquals(MODEL, restored.header().model());
                assertEquals(cache.policy().spec(), restored.header().policy());
                assertEquals(CheckpointCodec.FORMAT_VERSION, restored.header().formatVersion());
                assertEquals("f32", restored.header().dtype());
            }
        }
    }

    @Test
    void nanPayloadsAndNegativeZerosSurviveBitForBit() throws IOException {
        var layout = new KvLayout(1, 1, 4);
        var model = new ModelIdentity("m", "t", layout);
        float[] odd = {Float.intBitsToFloat(0x7fc0_1234), -0.0f, Float.MIN_VALUE, Float.intBitsToFloat(0xffa0_0001)};
        try (var cache = KvCaches.full(layout)) {
            cache.append(0, 0, odd, 0, odd, 0);
            cache.endStep();
            var out = new ByteArrayOutputStream();
            CheckpointCodec.write(out, model, cache, SEQUENCE);
            try (var restored = CheckpointCodec.read(new ByteArrayInputStream(out.toByteArray()), model,
                    KvBlockPool.unbounded(layout)).cache()) {
                assertEquals(-1, cache.keys(0).mismatch(restored.keys(0)));
                assertEquals(-1, cache.values(0).mismatch(restored.values(0)));
            }
        }
    }

    @Test
    void everyFlippedByteIsDetectedAndNothingLeaks() throws IOException {
        var pool = KvBlockPool.unbounded(LAYOUT);
        byte[] bytes;
        try (var cache = run(LAYOUT, PolicySpec.of("lethe", "delta", "2", "sparse-ratio", "3", "sinks", "1", "recent-ratio", "0.1"), 8, 8, 3, pool)) {
            assertTrue(cache.stats().totalRounds() > 0, "the checkpoint holds a pruned cache");
            bytes = write(cache);
        }
        for (int mask : new int[]{0xff, 0x01}) {
            for (int i = 0; i < bytes.length; i++) {
                byte[] damaged = bytes.clone();
                damaged[i] ^= (byte) mask;
                int at = i;
                var e = assertThrows(IOException.class, () -> read(damaged, pool), () -> "flip 0x" + Integer.toHexString(mask) + " at byte " + at);
                if (!(e instanceof CheckpointFormatException) && !(e instanceof CheckpointMismatchException)) {
                    fail("byte " + i + ": unexpected " + e);
                }
                assertEquals(0, pool.usedBlocks(), "a refused checkpoint frees what it allocated (byte " + i + ")");
            }
        }
        assertTrue(bytes.length > 500, "a checkpoint of " + bytes.length + " bytes");
    }

    @Test
    void typicalDamageGetsTheRightWords() throws IOException {
        byte[] bytes;
        try (var cache = run(LAYOUT, PolicySpec.of("lethe"), 8, 2, 3, KvBlockPool.unbounded(LAYOUT))) {
            bytes = write(cache);
        }
        var pool = KvBlockPool.unbounded(LAYOUT);
        assertTrue(messageOf(flip(bytes, 0), pool).contains("bad magic"));
        assertTrue(messageOf(flip(bytes, bytes.length - 1), pool).contains("SHA-256 mismatch"));
        assertTrue(messageOf(flip(bytes, bytes.length - 200), pool).contains("CRC32C mismatch"));
        var version = assertThrows(CheckpointMismatchException.class, () -> read(flip(bytes, 11), pool));
        assertEquals("format version", version.field());
        for (int cut = 0; cut < bytes.length; cut++) {
            byte[] truncated = Arrays.copyOf(bytes, cut);
            var e = assertThrows(CheckpointFormatException.class, () -> read(truncated, pool));
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
        assertTrue(messageOf(longer, pool).contains("after the SHA-256"));
    }

    private static byte[] flip(byte[] bytes, int at) {
        byte[] copy = bytes.clone();
        copy[at] ^= 1;
        return copy;
    }

    private static String messageOf(byte[] bytes, KvBlockPool pool) {
        return assertThrows(CheckpointFormatException.class, () -> read(bytes, pool)).getMessage();
    }

    @Test
    void anotherModelOrLayoutIsRefusedNamingTheField() throws IOException {
        byte[] bytes;
        try (var cache = run(LAYOUT, PolicySpec.of("lethe"), 8, 2, 3, KvBlockPool.unbounded(LAYOUT))) {
            bytes = write(cache);
        }
        assertRefused(bytes, new ModelIdentity("model-sha-XYZ", MODEL.tokenizerHash(), LAYOUT), "model hash");
        assertRefused(bytes, new ModelIdentity(MODEL.modelHash(), "other", LAYOUT), "tokenizer hash");
        assertRefused(bytes, new ModelIdentity(MODEL.modelHash(), MODEL.tokenizerHash(), new KvLayout(3, 2, 3)), "layout.layers");
        assertRefused(bytes, new ModelIdentity(MODEL.modelHash(), MODEL.tokenizerHash(), new KvLayout(2, 1, 3)), "layout.kvHeads");
        assertRefused(bytes, new ModelIdentity(MODEL.modelHash(), MODEL.tokenizerHash(), new KvLayout(2, 2, 4)), "layout.headDim");
    }

    private static void assertRefused(byte[] bytes, ModelIdentity expected, String field) {
        var e = assertThrows(CheckpointMismatchException.class,
                () -> CheckpointCodec.read(new ByteArrayInputStream(bytes), expected, KvBlockPool.unbounded(expected.layout())));
        assertEquals(field, e.field());
        assertTrue(e.getMessage().contains("'" + field + "'"), e.getMessage());
    }

    @Test
    void aCheckpointIsTakenOnlyBetweenSteps() {
        try (var cache = run(LAYOUT, PolicySpec.of("lethe"), 8, 2, 3, KvBlockPool.unbounded(LAYOUT))) {
            Synthetic.appendAll(cache, 10, 11);
            assertThrows(IllegalStateException.class, () -> CheckpointCodec.write(OutputStream.nullOutputStream(), MODEL, cache, SEQUENCE));
        }
    }

    @Test
    void largeCachesStreamThroughSmallWritesAndTrickledReads() throws IOException {
        var layout = new KvLayout(2, 8, 64);
        var model = new ModelIdentity("m", "t", layout);
        try (var cache = run(layout, PolicySpec.full(), 300, 0, 1, KvBlockPool.unbounded(layout))) {
            var sink = new ByteArrayOutputStream();
            int[] largestWrite = {0};
            var watched = new OutputStream() {
                @Override
                public void write(int b) {
                    sink.write(b);
                    largestWrite[0] = Math.max(largestWrite[0], 1);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    sink.write(b, off, len);
                    largestWrite[0] = Math.max(largestWrite[0], len);
                }
            };
            var info = CheckpointCodec.write(watched, model, cache, SEQUENCE);
            assertTrue(info.bytes() > 1_000_000, "a checkpoint of " + info.bytes() + " bytes");
            assertTrue(largestWrite[0] <= 1 << 16, "largest write " + largestWrite[0]);
            var trickle = new FilterInputStream(new ByteArrayInputStream(sink.toByteArray())) {
                private int turn;

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    return super.read(b, off, Math.min(len, 1 + (turn++ % 7)));
                }
            };
            try (var restored = CheckpointCodec.read(trickle, model, KvBlockPool.unbounded(layout)).cache()) {
                assertSameState(cache, restored, "large");
            }
        }
    }

    @Test
    void anUnknownFormatVersionIsRefusedByName() throws IOException {
        byte[] bytes;
        try (var cache = run(LAYOUT, PolicySpec.of("lethe"), 8, 2, 3, KvBlockPool.unbounded(LAYOUT))) {
            bytes = write(cache);
        }
        var out = new ByteArrayOutputStream();
        new DataOutputStream(out).writeInt(2);
        System.arraycopy(out.toByteArray(), 0, bytes, 8, 4);
        var e = assertThrows(CheckpointMismatchException.class, () -> read(bytes, KvBlockPool.unbounded(LAYOUT)));
        assertEquals("format version", e.field());
    }

    /** Everything a cache holds and reports, compared bit for bit. */
    static void assertSameState(OffHeapKvCache a, OffHeapKvCache b, String where) {
        assertEquals(a.policy().spec(), b.policy().spec(), where);
        assertArrayEquals(policyState(a), policyState(b), where + ": policy state");
        int width = a.policy().scorer().width();
        for (int l = 0; l < a.layout().layers(); l++) {
            String at = where + " layer " + l;
            assertEquals(a.length(l), b.length(l), at);
            assertEquals(a.fullLength(l), b.fullLength(l), at);
            assertEquals(a.lastPosition(l), b.lastPosition(l), at);
            assertArrayEquals(Synthetic.positions(a, l), Synthetic.positions(b, l), at);
            int n = a.length(l) * width;
            float[] sa = Arrays.copyOf(a.layerView(l).scores(), n);
            float[] sb = Arrays.copyOf(b.layerView(l).scores(), n);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(sa[i]), Float.floatToRawIntBits(sb[i]), at + " score " + i);
            }
            assertEquals(-1, a.keys(l).mismatch(b.keys(l)), at + " keys");
            assertEquals(-1, a.values(l).mismatch(b.values(l)), at + " values");
        }
        KvCacheStats x = a.stats();
        KvCacheStats y = b.stats();
        assertEquals(x.step(), y.step(), where);
        assertEquals(x.promptLength(), y.promptLength(), where);
        assertArrayEquals(x.rounds(), y.rounds(), where);
        assertArrayEquals(x.deferred(), y.deferred(), where);
        assertArrayEquals(x.hoyer(), y.hoyer(), where);
        assertEquals(x.retainedFractionSum(), y.retainedFractionSum(), where);
        assertEquals(x.retainedSamples(), y.retainedSamples(), where);
    }

    private static byte[] policyState(OffHeapKvCache cache) {
        try {
            var out = new ByteArrayOutputStream();
            cache.policy().writeState(new DataOutputStream(out));
            return out.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
