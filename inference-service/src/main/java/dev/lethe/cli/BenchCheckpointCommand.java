package dev.lethe.cli;

import dev.lethe.engine.bench.CheckpointBench;
import dev.lethe.store.CheckpointStore;
import dev.lethe.store.CheckpointStores;
import dev.lethe.store.S3Settings;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code lethe bench-checkpoint}: checkpoint size, store speed, and resume against recompute latency, in one run. */
final class BenchCheckpointCommand {
    static final String USAGE = """
            usage: lethe bench-checkpoint [--lengths 1024,4096,16384] [--token-cap N] [--dir DIR] [--store DIR]
                                          [--s3 s3://BUCKET/PREFIX --s3-endpoint URL --s3-access-key K --s3-secret-key S]
              --lengths    job lengths in tokens (default 1024,4096,16384)
              --token-cap  the Lethe policy's token cap (default 1024): random weights give flat attention, on which
                           Lethe alone prunes little
              --dir        where the random ~125M-parameter Q8_0 model is cached (default bench/out/checkpoint-bench)
              --store      the directory checkpoint store measured (default bench/out/checkpoint-bench/store)
              --s3 ...     also measure an S3-compatible store (the bucket must exist)
            For each length: recompute latency (one prefill of the job, then its next token), the Lethe-pruned
            checkpoint's size next to the full KV bytes, write and read MB/s per store next to a plain write + fsync,
            and resume latency (read, verify, restore, next token).
            """;

    private BenchCheckpointCommand() {}

    static int run(String[] args, PrintStream out) throws IOException {
        Options o = Options.parse(args, 1, Set.of("lengths", "token-cap", "dir", "store", "s3", "s3-endpoint",
                "s3-access-key", "s3-secret-key"), Set.of());
        List<Integer> lengths = new ArrayList<>();
        for (String part : o.get("lengths", "1024,4096,16384").split(",")) {
            try {
                int n = Integer.parseInt(part.trim());
                if (n <= 64) throw new UsageException("--lengths: each length must exceed the 64-token prompt, got " + n);
                lengths.add(n);
            } catch (NumberFormatException e) {
                throw new UsageException("--lengths takes whole numbers separated by commas, got '" + part + "'");
            }
        }
        int tokenCap = o.getInt("token-cap", 1024);
        if (tokenCap < 0) throw new UsageException("--token-cap must be 0 (none) or positive");
        Path dir = Path.of(o.get("dir", "bench/out/checkpoint-bench"));
        Path storeDir = Path.of(o.get("store", dir.resolve("store").toString()));
        Map<String, CheckpointStore> stores = new LinkedHashMap<>();
        try {
            stores.put("directory", CheckpointStores.forLocation(storeDir.toString(), null));
            if (o.has("s3")) {
                String endpoint = o.get("s3-endpoint", null);
                S3Settings s3 = endpoint == null ? S3Settings.aws(null)
                        : S3Settings.compatible(URI.create(endpoint), o.get("s3-access-key", null), o.get("s3-secret-key", null));
                stores.put("s3", CheckpointStores.forLocation(o.get("s3", null), s3));
            }
            CheckpointBench.run(dir, lengths.stream().mapToInt(Integer::intValue).toArray(), stores, storeDir.resolve("scratch"),
                    Integer.toString(tokenCap), out);
        } finally {
            for (CheckpointStore store : stores.values()) store.close();
        }
        return 0;
    }
}
