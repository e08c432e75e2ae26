package dev.lethe.cache.checkpoint;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCacheStats;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.LayerView;
import dev.lethe.cache.policy.PolicySpec;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.TreeMap;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Writes and reads checkpoints of a sequence: its pruned KV cache with the policy's state, the tokens and the
 * sampler (DESIGN §4). Both directions stream: the keys and values go through a 64 KiB buffer, never one array.
 *
 * <p>Format version 1. All numbers big-endian; strings in modified UTF-8 with a 2-byte length
 * ({@link DataOutputStream#writeUTF}).
 * <pre>
 *   magic   "LETHEKV\0" (8 bytes)
 *   version u32
 *   section HEAD  model hash, tokenizer hash, layers, kvHeads, headDim (u32), dtype ("f32"),
 *                 policy name, policy version (u32), parameter count (u32), (key, value)*
 *   section SEQN  prompt token count (u32) + ids (i32), generated count + ids, lastSeq (i64),
 *                 sampler: temperature, topP (f32), topK (i32), minP (f32), seed, rngState (i64)
 *   section POLS  the policy's own state (thresholds, counters; format owned by the policy version)
 *   per layer:
 *     section LMET  layer, retained n, full length, last position (i32), score width w (u32),
 *                   positions (n × i32), scores (n·w × f32)
 *     section LKVS  keys (n·kvDim × f32) then values (n·kvDim × f32), slot-major
 *   section STAT  step (i64), prompt length (i32), per layer rounds, deferred (i64), Hoyer (f64),
 *                 retained-fraction sum (f64), samples (i64)
 *   section ENDS  empty
 *   sha256  32 bytes over everything before it
 * </pre>
 * A section is {@code tag (4 ASCII bytes), payload length (u64), payload, CRC32C (u32)}; the CRC covers tag,
 * length and payload. Floats are copied bit for bit, so a restored cache is bit-exact.
 */
public final class CheckpointCodec {
    public static final int FORMAT_VERSION = 1;
    public static final String DTYPE = "f32";
    private static final byte[] MAGIC = {'L', 'E', 'T', 'H', 'E', 'K', 'V', 0};
    private static final int HEAD = tag("HEAD");
    private static final int SEQN = tag("SEQN");
    private static final int POLS = tag("POLS");
    private static final int LMET = tag("LMET");
    private static final int LKVS = tag("LKVS");
    private static final int STAT = tag("STAT");
    private static final int ENDS = tag("ENDS");
    private static final int CHUNK_BYTES = 1 << 16;
    /** Sections other than LKVS are read whole; a length above this is corruption, not a real checkpoint. */
    private static final long SMALL_SECTION_LIMIT = 1L << 30;
    private static final ValueLayout.OfFloat FLOAT_BE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private CheckpointCodec() {
    }

    /**
     * Writes a checkpoint of {@code cache} (between steps) to {@code out}, which is flushed but not closed.
     */
    public static CheckpointInfo write(OutputStream out, ModelIdentity model, OffHeapKvCache cache, SequenceState sequence)
            throws IOException {
        KvLayout layout = cache.layout();
        if (!layout.equals(model.layout())) {
            throw new IllegalArgumentException("cache layout " + layout + " is not the model's " + model.layout());
        }
        if (!cache.betweenSteps()) {
            throw new IllegalStateException("a checkpoint is taken between steps: tokens were appended since the last endStep");
        }
        var sink = new HashingOutput(new BufferedOutputStream(out, CHUNK_BYTES));
        byte[] chunk = new byte[CHUNK_BYTES];
        sink.write(MAGIC);
        new DataOutputStream(sink).writeInt(FORMAT_VERSION);

        smallSection(sink, HEAD, data -> {
            data.writeUTF(model.modelHash());
            data.writeUTF(model.tokenizerHash());
            data.writeInt(layout.layers());
            data.writeInt(layout.kvHeads());
            data.writeInt(layout.headDim());
            data.writeUTF(DTYPE);
            PolicySpec spec = cache.policy().spec();
            data.writeUTF(spec.name());
            data.writeInt(cache.policy().version());
            data.writeInt(spec.parameters().size());
            for (var e : spec.parameters().entrySet()) {
                data.writeUTF(e.getKey());
                data.writeUTF(e.getValue());
            }
        });
        smallSection(sink, SEQN, data -> {
            writeInts(data, sequence.promptTokens());
            writeInts(data, sequence.generatedTokens());
            data.writeLong(sequence.lastSeq());
            SamplerState s = sequence.sampler();
            data.writeInt(Float.floatToRawIntBits(s.temperature()));
            data.writeInt(Float.floatToRawIntBits(s.topP()));
            data.writeInt(s.topK());
            data.writeInt(Float.floatToRawIntBits(s.minP()));
            data.writeLong(s.seed());
            data.writeLong(s.rngState());
        });
        smallSection(sink, POLS, data -> cache.policy().writeState(data));

        int width = cache.policy().scorer().width();
        long rowFloats = layout.kvDim();
        for (int l = 0; l < layout.layers(); l++) {
            LayerView view = cache.layerView(l);
            int n = view.length();
            int layer = l;
            int[] positions = new int[n];
            for (int s = 0; s < n; s++) positions[s] = view.position(s);
            section(sink, LMET, metaLength(n, width), data -> {
                data.writeInt(layer);
                data.writeInt(n);
                data.writeInt(view.fullLength());
                data.writeInt(cache.lastPosition(layer));
                data.writeInt(width);
                copyOut(data, MemorySegment.ofArray(positions), JAVA_INT, INT_BE, n, chunk);
                copyOut(data, MemorySegment.ofArray(view.scores()), JAVA_FLOAT, FLOAT_BE, (long) n * width, chunk);
            });
            section(sink, LKVS, 2 * n * rowFloats * Float.BYTES, data -> {
                copyOut(data, view.keys(), JAVA_FLOAT, FLOAT_BE, n * rowFloats, chunk);
                copyOut(data, view.values(), JAVA_FLOAT, FLOAT_BE, n * rowFloats, chunk);
            });
        }
        KvCacheStats stats = cache.stats();
        smallSection(sink, STAT, data -> {
            data.writeLong(stats.step());
            data.writeInt(stats.promptLength());
            for (int l = 0; l < layout.layers(); l++) {
                data.writeLong(stats.rounds()[l]);
                data.writeLong(stats.deferred()[l]);
                data.writeLong(Double.doubleToRawLongBits(stats.hoyer()[l]));
            }
            data.writeLong(Double.doubleToRawLongBits(stats.retainedFractionSum()));
            data.writeLong(stats.retainedSamples());
        });
        section(sink, ENDS, 0, data -> {
        });
        byte[] sha = sink.finish();
        return new CheckpointInfo(sink.count + sha.length, sha);
    }

    /**
     * Reads a checkpoint and rebuilds its cache (memory from {@code pool}), refusing one for another model,
     * layout, dtype, format or policy version ({@link CheckpointMismatchException} names the field) and any
     * damaged one ({@link CheckpointFormatException}). Reads {@code in} to its end; does not close it.
     */
    public static RestoredCheckpoint read(InputStream in, ModelIdentity expected, KvBlockPool pool) throws IOException {
        var source = new DigestInputStream(new BufferedInputStream(in, CHUNK_BYTES), sha256());
        var raw = new DataInputStream(source);
        OffHeapKvCache cache = null;
        try {
            byte[] magic = new byte[MAGIC.length];
            raw.readFully(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw new CheckpointFormatException("not a Lethe checkpoint: bad magic number");
            }
            int version = raw.readInt();
            if (version != FORMAT_VERSION) throw new CheckpointMismatchException("format version", version, FORMAT_VERSION);

            DataInputStream head = smallSection(source, HEAD, "HEAD");
            var header = readHeader(head, expected);
            try {
                cache = KvCaches.create(expected.layout(), header.policy(), pool);
            } catch (IllegalArgumentException e) {
                throw new CheckpointMismatchException("policy", header.policy() + " (" + e.getMessage() + ")",
                        "a policy this build can rebuild");
            }
            if (!cache.policy().spec().equals(header.policy())) {
                throw new CheckpointMismatchException("policy parameters", header.policy(), cache.policy().spec());
            }

            SequenceState sequence = readSequence(smallSection(source, SEQN, "SEQN"));
            DataInputStream policyState = smallSection(source, POLS, "POLS");
            cache.policy().readState(policyState);
            requireConsumed(policyState, "POLS");

            byte[] chunk = new byte[CHUNK_BYTES];
            KvLayout layout = expected.layout();
            int width = cache.policy().scorer().width();
            for (int l = 0; l < layout.layers(); l++) readLayer(source, cache, l, width, chunk);
            readStats(smallSection(source, STAT, "STAT"), cache);
            smallSection(source, ENDS, "ENDS");

            byte[] computed = source.getMessageDigest().digest();
            source.on(false);
            byte[] stored = new byte[computed.length];
            raw.readFully(stored);
            if (!MessageDigest.isEqual(computed, stored)) {
                throw new CheckpointFormatException("checkpoint damaged: SHA-256 mismatch over the whole checkpoint");
            }
            if (source.read() != -1) throw new CheckpointFormatException("checkpoint damaged: bytes after the SHA-256 trailer");
            return new RestoredCheckpoint(header, cache, sequence);
        } catch (EOFException e) {
            if (cache != null) cache.close();
            throw new CheckpointFormatException("checkpoint truncated (ends too early)", e);
        } catch (IOException | RuntimeException e) {
            if (cache != null) cache.close();
            throw e;
        }
    }

    private static CheckpointHeader readHeader(DataInputStream head, ModelIdentity expected) throws IOException {
        String modelHash = head.readUTF();
        String tokenizerHash = head.readUTF();
        int layers = head.readInt();
        int kvHeads = head.readInt();
        int headDim = head.readInt();
        String dtype = head.readUTF();
        String policyName = head.readUTF();
        int policyVersion = head.readInt();
        int parameters = head.readInt();
        if (parameters < 0) throw new CheckpointFormatException("checkpoint damaged: negative parameter count");
        var map = new TreeMap<String, String>();
        for (int i = 0; i < parameters; i++) map.put(head.readUTF(), head.readUTF());
        requireConsumed(head, "HEAD");

        if (!modelHash.equals(expected.modelHash())) throw new CheckpointMismatchException("model hash", modelHash, expected.modelHash());
        if (!tokenizerHash.equals(expected.tokenizerHash())) {
            throw new CheckpointMismatchException("tokenizer hash", tokenizerHash, expected.tokenizerHash());
        }
        KvLayout layout = expected.layout();
        if (layers != layout.layers()) throw new CheckpointMismatchException("layout.layers", layers, layout.layers());
        if (kvHeads != layout.kvHeads()) throw new CheckpointMismatchException("layout.kvHeads", kvHeads, layout.kvHeads());
        if (headDim != layout.headDim()) throw new CheckpointMismatchException("layout.headDim", headDim, layout.headDim());
        if (!dtype.equals(DTYPE)) throw new CheckpointMismatchException("dtype", dtype, DTYPE);
        if (policyVersion != dev.lethe.cache.policy.Policies.VERSION) {
            throw new CheckpointMismatchException("policy version", policyVersion, dev.lethe.cache.policy.Policies.VERSION);
        }
        PolicySpec policy;
        try {
            policy = PolicySpec.of(policyName, map);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException("checkpoint damaged: " + e.getMessage());
        }
        return new CheckpointHeader(FORMAT_VERSION, expected, dtype, policy, policyVersion);
    }

    private static SequenceState readSequence(DataInputStream data) throws IOException {
        int[] prompt = readInts(data, "prompt tokens");
        int[] generated = readInts(data, "generated tokens");
        long lastSeq = data.readLong();
        var sampler = new SamplerState(Float.intBitsToFloat(data.readInt()), Float.intBitsToFloat(data.readInt()),
                data.readInt(), Float.intBitsToFloat(data.readInt()), data.readLong(), data.readLong());
        requireConsumed(data, "SEQN");
        try {
            return new SequenceState(prompt, generated, lastSeq, sampler);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException("checkpoint damaged: " + e.getMessage());
        }
    }

    private static void readLayer(DigestInputStream source, OffHeapKvCache cache, int layer, int width, byte[] chunk)
            throws IOException {
        String name = "LMET of layer " + layer;
        DataInputStream meta = smallSection(source, LMET, name);
        int index = meta.readInt();
        int n = meta.readInt();
        int fullLength = meta.readInt();
        int lastPosition = meta.readInt();
        int storedWidth = meta.readInt();
        if (index != layer) throw new CheckpointFormatException("checkpoint damaged: " + name + " is labelled layer " + index);
        if (storedWidth != width) {
            throw new CheckpointFormatException("checkpoint damaged: " + name + " has " + storedWidth
                    + " score floats per slot, the policy keeps " + width);
        }
        if (n < 0 || meta.available() != metaLength(n, width) - 20) {
            throw new CheckpointFormatException("checkpoint damaged: " + name + " length does not match its " + n + " slots");
        }
        int[] positions = new int[n];
        copyIn(meta, MemorySegment.ofArray(positions), JAVA_INT, INT_BE, n, chunk);
        LayerView view;
        try {
            view = cache.restoreLayer(layer, positions, fullLength, lastPosition);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException("checkpoint damaged: " + e.getMessage());
        }
        copyIn(meta, MemorySegment.ofArray(view.scores()), JAVA_FLOAT, FLOAT_BE, (long) n * width, chunk);

        var crc = new CRC32C();
        var data = new DataInputStream(new CrcInput(source, crc));
        long rowFloats = cache.layout().kvDim();
        long expectedLength = 2 * n * rowFloats * Float.BYTES;
        long length = sectionStart(data, LKVS, "LKVS of layer " + layer);
        if (length != expectedLength) {
            throw new CheckpointFormatException("checkpoint damaged: LKVS of layer " + layer + " has " + length
                    + " bytes, " + n + " slots need " + expectedLength);
        }
        copyIn(data, view.keys(), JAVA_FLOAT, FLOAT_BE, n * rowFloats, chunk);
        copyIn(data, view.values(), JAVA_FLOAT, FLOAT_BE, n * rowFloats, chunk);
        checkCrc(source, crc, "LKVS of layer " + layer);
    }

    private static void readStats(DataInputStream data, OffHeapKvCache cache) throws IOException {
        int layers = cache.layout().layers();
        long step = data.readLong();
        int promptLength = data.readInt();
        long[] rounds = new long[layers];
        long[] deferred = new long[layers];
        double[] hoyer = new double[layers];
        int[] retained = new int[layers];
        int[] full = new int[layers];
        for (int l = 0; l < layers; l++) {
            rounds[l] = data.readLong();
            deferred[l] = data.readLong();
            hoyer[l] = Double.longBitsToDouble(data.readLong());
            retained[l] = cache.length(l);
            full[l] = cache.fullLength(l);
        }
        double fractionSum = Double.longBitsToDouble(data.readLong());
        long samples = data.readLong();
        requireConsumed(data, "STAT");
        cache.restoreStats(new KvCacheStats(step, promptLength, retained, full, rounds, deferred, hoyer, fractionSum, samples));
    }

    // --- sections ---

    private interface Body {
        void write(DataOutputStream data) throws IOException;
    }

    private static long metaLength(int n, int width) {
        return 20 + 4L * n + 4L * n * width;
    }

    private static void smallSection(HashingOutput sink, int tag, Body body) throws IOException {
        var bytes = new ByteArrayOutputStream();
        var data = new DataOutputStream(bytes);
        body.write(data);
        data.flush();
        section(sink, tag, bytes.size(), d -> bytes.writeTo(d));
    }

    private static void section(HashingOutput sink, int tag, long length, Body body) throws IOException {
        var crc = new CRC32C();
        var counter = new CrcOutput(sink, crc);
        var data = new DataOutputStream(counter);
        data.writeInt(tag);
        data.writeLong(length);
        body.write(data);
        data.flush();
        if (counter.count != 12 + length) {
            throw new IllegalStateException("section " + tagName(tag) + " wrote " + (counter.count - 12)
                    + " bytes, announced " + length);
        }
        new DataOutputStream(sink).writeInt((int) crc.getValue());
    }

    /** Reads a whole (small) section, checks its CRC, and returns its payload to parse. */
    private static DataInputStream smallSection(DigestInputStream source, int tag, String name) throws IOException {
        var crc = new CRC32C();
        var data = new DataInputStream(new CrcInput(source, crc));
        long length = sectionStart(data, tag, name);
        if (length > SMALL_SECTION_LIMIT) {
            throw new CheckpointFormatException("checkpoint damaged: section " + name + " claims " + length + " bytes");
        }
        byte[] payload = new byte[(int) length];
        data.readFully(payload);
        checkCrc(source, crc, name);
        return new DataInputStream(new ByteArrayInputStream(payload));
    }

    private static long sectionStart(DataInputStream data, int tag, String name) throws IOException {
        int found = data.readInt();
        if (found != tag) {
            throw new CheckpointFormatException("checkpoint damaged: expected section " + name + ", found tag "
                    + tagName(found));
        }
        long length = data.readLong();
        if (length < 0) throw new CheckpointFormatException("checkpoint damaged: section " + name + " has a negative length");
        return length;
    }

    private static void checkCrc(InputStream source, CRC32C crc, String name) throws IOException {
        int stored = new DataInputStream(source).readInt();
        if (stored != (int) crc.getValue()) {
            throw new CheckpointFormatException("checkpoint damaged: CRC32C mismatch in section " + name);
        }
    }

    private static void requireConsumed(DataInputStream data, String name) throws IOException {
        if (data.available() != 0) {
            throw new CheckpointFormatException("checkpoint damaged: section " + name + " has " + data.available() + " unread bytes");
        }
    }

    // --- bulk copies through a chunk ---

    private static void copyOut(DataOutputStream data, MemorySegment from, ValueLayout layout, ValueLayout bigEndian,
                                long count, byte[] chunk) throws IOException {
        var buffer = MemorySegment.ofArray(chunk);
        int perChunk = chunk.length / 4;
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(perChunk, count - done);
            MemorySegment.copy(from, layout, done * 4, buffer, bigEndian, 0, n);
            data.write(chunk, 0, n * 4);
            done += n;
        }
    }

    private static void copyIn(DataInputStream data, MemorySegment to, ValueLayout layout, ValueLayout bigEndian,
                               long count, byte[] chunk) throws IOException {
        var buffer = MemorySegment.ofArray(chunk);
        int perChunk = chunk.length / 4;
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(perChunk, count - done);
            data.readFully(chunk, 0, n * 4);
            MemorySegment.copy(buffer, bigEndian, 0, to, layout, done * 4, n);
            done += n;
        }
    }

    private static void writeInts(DataOutputStream data, int[] values) throws IOException {
        data.writeInt(values.length);
        for (int v : values) data.writeInt(v);
    }

    private static int[] readInts(DataInputStream data, String what) throws IOException {
        int n = data.readInt();
        if (n < 0 || (long) n * 4 > data.available()) {
            throw new CheckpointFormatException("checkpoint damaged: " + what + " count " + n + " exceeds its section");
        }
        int[] values = new int[n];
        for (int i = 0; i < n; i++) values[i] = data.readInt();
        return values;
    }

    private static int tag(String name) {
        byte[] b = name.getBytes(StandardCharsets.US_ASCII);
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }

    private static String tagName(int tag) {
        var sb = new StringBuilder();
        for (int shift = 24; shift >= 0; shift -= 8) {
            int c = (tag >>> shift) & 0xff;
            sb.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\x%02x", c));
        }
        return sb.toString();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** The checkpoint's byte sink: feeds the SHA-256 and counts. */
    private static final class HashingOutput extends FilterOutputStream {
        final MessageDigest digest = sha256();
        long count;

        HashingOutput(OutputStream out) {
            super(out);
        }

        /** Appends the SHA-256 of everything written so far (not itself hashed or counted) and flushes. */
        byte[] finish() throws IOException {
            byte[] sha = digest.digest();
            out.write(sha);
            out.flush();
            return sha;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            digest.update((byte) b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            digest.update(b, off, len);
            count += len;
        }
    }

    /** A section's bytes on the way out: feeds its CRC32C and counts. */
    private static final class CrcOutput extends FilterOutputStream {
        private final CRC32C crc;
        long count;

        CrcOutput(OutputStream out, CRC32C crc) {
            super(out);
            this.crc = crc;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            crc.update(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            crc.update(b, off, len);
            count += len;
        }
    }

    /** A section's bytes on the way in: feeds its CRC32C. */
    private static final class CrcInput extends FilterInputStream {
        private final CRC32C crc;

        CrcInput(InputStream in, CRC32C crc) {
            super(in);
            this.crc = crc;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) crc.update(b);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) crc.update(b, off, n);
            return n;
        }
    }
}
