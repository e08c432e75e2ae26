package dev.lethe.engine.bench;

import dev.lethe.store.CheckpointStore;
import dev.lethe.store.CheckpointStores;
import dev.lethe.store.S3Settings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.Constants;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;
import software.amazon.awssdk.services.s3.model.CreateBucketRequest;

/**
 * {@code lethe bench-checkpoint} with an S3 store as well: S3Proxy (a real S3-compatible server, a test
 * dependency only) over a folder next to the directory store, so both stores write to the same disk. Run from
 * the test class path: {@code java -cp <test class path> dev.lethe.engine.bench.CheckpointBenchWithS3Proxy
 * [lengths] [token cap]}.
 */
public final class CheckpointBenchWithS3Proxy {
    private static final String ACCESS = "bench-access";
    private static final String SECRET = "bench-secret";

    private CheckpointBenchWithS3Proxy() {}

    public static void main(String[] args) throws Exception {
        int[] lengths = java.util.Arrays.stream((args.length > 0 ? args[0] : "1024,4096,16384").split(","))
                .mapToInt(Integer::parseInt).toArray();
        String tokenCap = args.length > 1 ? args[1] : "1024";
        Path dir = Path.of("bench/out/checkpoint-bench");
        Path s3dir = Files.createDirectories(dir.resolve("s3proxy"));
        Properties properties = new Properties();
        properties.setProperty("jclouds.filesystem.basedir", s3dir.toAbsolutePath().toString());
        properties.setProperty(Constants.PROPERTY_IDENTITY, ACCESS);
        properties.setProperty(Constants.PROPERTY_CREDENTIAL, SECRET);
        BlobStore blobs = BlobStores.create("filesystem", properties);
        S3Proxy proxy = S3Proxy.builder().blobStore(blobs).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS, SECRET).build();
        proxy.start();
        while (!"STARTED".equals(proxy.getState())) Thread.sleep(10);
        S3Settings s3 = S3Settings.compatible(URI.create("http://127.0.0.1:" + proxy.getPort()), ACCESS, SECRET);
        try (var client = s3.newClient()) {
            client.createBucket(CreateBucketRequest.builder().bucket("bench").build());
        } catch (BucketAlreadyOwnedByYouException e) {
            // left by an earlier run: fine
        }
        Map<String, CheckpointStore> stores = new LinkedHashMap<>();
        stores.put("directory", CheckpointStores.forLocation(dir.resolve("store").toString(), null));
        stores.put("s3 (S3Proxy)", CheckpointStores.forLocation("s3://bench/checkpoints", s3));
        try {
            CheckpointBench.run(dir, lengths, stores, dir.resolve("store/scratch"), tokenCap, System.out);
        } finally {
            for (CheckpointStore store : stores.values()) store.close();
            proxy.stop();
            blobs.close();
        }
    }
}
