package dev.lethe.store;

/**
 * Run in a child JVM with a heap smaller than the blob: puts a pseudo-random blob into a store and prints
 * what the store reported. Arguments: jobId checkpointId seed bytes location [endpoint accessKey secretKey].
 */
public final class LargeBlobWriter {
    private LargeBlobWriter() {
    }

    public static void main(String[] args) throws Exception {
        String jobId = args[0];
        String checkpointId = args[1];
        long seed = Long.parseLong(args[2]);
        long bytes = Long.parseLong(args[3]);
        S3Settings s3 = args.length > 5 ? S3Settings.compatible(java.net.URI.create(args[5]), args[6], args[7]) : null;
        try (CheckpointStore store = CheckpointStores.forLocation(args[4], s3)) {
            StoredCheckpoint stored = store.put(jobId, checkpointId, out -> TestCheckpoints.writePseudoRandom(out, seed, bytes));
            Runtime runtime = Runtime.getRuntime();
            System.out.println("stored " + stored.uri() + " bytes=" + stored.bytes() + " sha256=" + stored.sha256()
                    + " maxHeap=" + runtime.maxMemory());
        }
    }
}
