package dev.lethe.store;

import dev.lethe.cache.KvBlockPool;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.KvLayout;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.checkpoint.CheckpointCodec;
import dev.lethe.cache.checkpoint.ModelIdentity;
import dev.lethe.cache.checkpoint.SamplerState;
import dev.lethe.cache.checkpoint.SequenceState;
import dev.lethe.cache.policy.PolicySpec;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CreateBucketRequest;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;

import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;

/**
 * Write and read throughput of a real, unpruned checkpoint (default ~256 MiB) through each store, next to
 * the codec writing a plain file with one fsync: how much the stores' hashing, temp-file-and-rename and HTTP
 * cost. Reads are measured twice: draining the raw stream, and a full restore with {@code CheckpointCodec.read}.
 * Reads follow the writes, so they come from the page cache: this compares the stores' own overhead, not disks.
 *
 * <pre>
 *   ./mvnw -q -pl inference-service -am test-compile
 *   ./mvnw -q -pl inference-service dependency:build-classpath -Dmdep.outputFile=/tmp/cp -Dmdep.includeScope=test
 *   java --add-modules jdk.incubator.vector -cp inference-service/target/classes:inference-service/target/test-classes:lethe-cache/target/classes:$(cat /tmp/cp) \
 *        dev.lethe.store.StoreBench [MiB] [repetitions] [work directory]
 * </pre>
 */
public final class StoreBench {
    private static final int REPS_DEFAULT = 3;

    private StoreBench() {
    }

    public static void main(String[] args) throws Exception {
        int mib = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : REPS_DEFAULT;
        Path work = Files.createTempDirectory(args.length > 2 ? Path.of(args[2]) : Path.of(System.getProperty("java.io.tmpdir")), "store-bench");
        // 8 layers x 8 KV heads x 128 dims: 64 KiB of keys and values per token, so 4096 tokens ~ 256 MiB.
        var layout = new KvLayout(8, 8, 128);
        var model = new ModelIdentity("bench-model", "bench-tokenizer", layout);
        int tokens = (int) ((long) mib << 20) / (2 * layout.layers() * layout.kvDim() * Float.BYTES);
        var sequence = new SequenceState(new int[]{1, 2, 3}, new int[tokens], tokens - 1, new SamplerState(0.8f, 0.95f, 40, 0.05f, 1, 2));

        try (var cache = randomCache(layout, tokens);
             var server = new S3ProxyServer(Files.createDirectories(work.resolve("s3proxy")));
             S3Client client = server.settings().newClient()) {
            client.createBucket(CreateBucketRequest.builder().bucket("bench").build());
            long bytes = CheckpointCodec.write(OutputStream.nullOutputStream(), model, cache, sequence).bytes();
            System.out.printf("checkpoint: %d tokens, %s, %.1f MiB; %d repetitions, median shown; Java %s, %d CPUs%n", tokens, layout,
                    bytes / 1048576.0, reps, Runtime.version(), Runtime.getRuntime().availableProcessors());
            System.out.printf("%-28s %12s %14s %16s%n", "store", "write MB/s", "raw read MB/s", "restore MB/s");

            Path plain = work.resolve("plain.lkv");
            report("plain file + fsync", bytes, reps,
                    () -> {
                        try (FileChannel channel = FileChannel.open(plain, CREATE, WRITE, TRUNCATE_EXISTING)) {
                            var out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16);
                            CheckpointCodec.write(out, model, cache, sequence);
                            channel.force(true);
                        }
                    },
                    () -> Files.newInputStream(plain, READ), model, layout);

            try (var dir = new DirectoryCheckpointStore(work.resolve("dir"))) {
                benchStore("directory store", dir, bytes, reps, model, layout, cache, sequence);
            }
            try (var s3 = new S3CheckpointStore(client, "bench", "p")) {
                benchStore("S3 store -> S3Proxy (fs)", s3, bytes, reps, model, layout, cache, sequence);
            }
        } finally {
            try (var paths = Files.walk(work)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void benchStore(String name, CheckpointStore store, long bytes, int reps, ModelIdentity model, KvLayout layout,
                                   OffHeapKvCache cache, SequenceState sequence) throws Exception {
        StoredCheckpoint[] last = new StoredCheckpoint[1];
        report(name, bytes, reps,
                () -> last[0] = store.put("bench-job", "ckpt-1", out -> CheckpointCodec.write(out, model, cache, sequence)),
                () -> store.open(last[0].uri()), model, layout);
        store.deleteAllFor("bench-job");
    }

    private interface Write {
        void run() throws Exception;
    }

    private interface Open {
        InputStream open() throws Exception;
    }

    private static void report(String name, long bytes, int reps, Write write, Open open, ModelIdentity model, KvLayout layout)
            throws Exception {
        double[] writes = new double[reps];
        double[] raws = new double[reps];
        double[] restores = new double[reps];
        byte[] chunk = new byte[1 << 16];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            write.run();
            long t1 = System.nanoTime();
            long read = 0;
            try (InputStream in = open.open()) {
                for (int n; (n = in.read(chunk)) > 0; ) read += n;
            }
            if (read != bytes) throw new IOException(name + ": read " + read + " bytes, wrote " + bytes);
            long t2 = System.nanoTime();
            try (InputStream in = open.open(); var restored = CheckpointCodec.read(in, model, KvBlockPool.unbounded(layout)).cache()) {
                if (restored.length(0) == 0) throw new IOException(name + ": restored an empty cache");
            }
            long t3 = System.nanoTime();
            writes[r] = mbPerSecond(bytes, t1 - t0);
            raws[r] = mbPerSecond(bytes, t2 - t1);
            restores[r] = mbPerSecond(bytes, t3 - t2);
        }
        System.out.printf("%-28s %12.0f %14.0f %16.0f%n", name, median(writes), median(raws), median(restores));
    }

    private static OffHeapKvCache randomCache(KvLayout layout, int tokens) {
        var cache = KvCaches.create(layout, PolicySpec.full());
        var random = new SplittableRandom(1);
        float[] key = new float[layout.kvDim()];
        float[] value = new float[layout.kvDim()];
        for (int p = 0; p < tokens; p++) {
            for (int l = 0; l < layout.layers(); l++) {
                for (int i = 0; i < key.length; i++) {
                    key[i] = (float) random.nextDouble(-1, 1);
                    value[i] = (float) random.nextDouble(-1, 1);
                }
                cache.append(l, p, key, 0, value, 0);
            }
            cache.endStep();
        }
        return cache;
    }

    /** Decimal megabytes per second, as disks and networks are rated. */
    private static double mbPerSecond(long bytes, long nanos) {
        return bytes / 1e6 / (nanos / 1e9);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
