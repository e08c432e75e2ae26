package dev.lethe.store;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CreateBucketRequest;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class S3CheckpointStoreTest extends CheckpointStoreContract {
    private static final String PREFIX = "tenant-a/checkpoints";

    @TempDir
    static Path serverDirectory;
    private static S3ProxyServer server;
    private static S3Client client;
    private static final AtomicInteger buckets = new AtomicInteger();
    /** The type of every request the store's client sent, and the size of each part it uploaded. */
    private static final List<String> requests = new CopyOnWriteArrayList<>();
    private static final List<Long> partSizes = new CopyOnWriteArrayList<>();
    private String bucket;

    @BeforeAll
    static void startServer() throws Exception {
        server = new S3ProxyServer(serverDirectory);
        client = S3Client.builder()
                .endpointOverride(server.endpoint()).region(software.amazon.awssdk.regions.Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(() -> software.amazon.awssdk.auth.credentials.AwsBasicCredentials.create(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY))
                .overrideConfiguration(c -> c.addExecutionInterceptor(new ExecutionInterceptor() {
                    @Override
                    public void beforeExecution(Context.BeforeExecution context, ExecutionAttributes attributes) {
                        requests.add(context.request().getClass().getSimpleName());
                        if (context.request() instanceof UploadPartRequest part) partSizes.add(part.contentLength());
                    }
                }))
                .build();
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (client != null) client.close();
        if (server != null) server.close();
    }

    @Override
    protected CheckpointStore newStore() {
        bucket = "lethe-test-" + buckets.incrementAndGet();
        client.createBucket(CreateBucketRequest.builder().bucket(bucket).build());
        requests.clear();
        partSizes.clear();
        return new S3CheckpointStore(client, bucket, PREFIX);
    }

    /** Rewrites the object with one byte flipped, through the S3 API, as a bad disk or a bad actor would. */
    @Override
    protected void corruptInStorage(URI uri, long offset) {
        String key = uri.getPath().substring(1);
        byte[] bytes = client.getObjectAsBytes(GetObjectRequest.builder().bucket(bucket).key(key).build()).asByteArray();
        bytes[(int) offset] ^= 0x10;
        client.putObject(PutObjectRequest.builder().bucket(bucket).key(key).build(), RequestBody.fromBytes(bytes));
    }

    /** S3 reports LastModified in whole seconds. */
    @Override
    protected Duration clockTick() {
        return Duration.ofMillis(1100);
    }

    @Override
    protected List<String> childStoreArguments() {
        return List.of("s3://" + bucket + "/" + PREFIX, server.endpoint().toString(), S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY);
    }

    /** An object uploaded in N parts has an ETag ending in "-N" on S3 and on S3Proxy. */
    @Override
    protected void assertLargeUpload(StoredCheckpoint stored) {
        String eTag = client.headObject(HeadObjectRequest.builder().bucket(bucket).key(stored.uri().getPath().substring(1)).build()).eTag();
        long parts = (LARGE_BLOB_BYTES + S3CheckpointStore.DEFAULT_PART_BYTES - 1) / S3CheckpointStore.DEFAULT_PART_BYTES;
        assertTrue(eTag.replace("\"", "").endsWith("-" + parts), "multipart ETag of " + parts + " parts: " + eTag);
    }

    @Test
    void urisNameTheBucketPrefixJobAndCheckpoint() throws Exception {
        StoredCheckpoint stored = putText("job-7f3a", "ckpt-3", "content");
        assertEquals(URI.create("s3://" + bucket + "/tenant-a/checkpoints/job-7f3a/ckpt-3.lkv"), stored.uri());
        assertEquals("s3://" + bucket + "/tenant-a/checkpoints/", store.describe());
    }

    @Test
    void aSmallBlobIsOnePutAndALargeOneIsUploadedInBoundedParts() throws Exception {
        putText("job-p", "ckpt-small", "small");
        assertEquals(List.of("PutObjectRequest"), requests);

        requests.clear();
        long bytes = 20L << 20;
        StoredCheckpoint stored = store.put("job-p", "ckpt-big", out -> TestCheckpoints.writePseudoRandom(out, 9, bytes));
        assertEquals(List.of("CreateMultipartUploadRequest", "UploadPartRequest", "UploadPartRequest", "UploadPartRequest",
                "CompleteMultipartUploadRequest"), requests);
        assertEquals(List.of(8L << 20, 8L << 20, 4L << 20), partSizes);
        assertEquals(TestCheckpoints.pseudoRandomSha256(9, bytes), stored.sha256());
        assertEquals(stored.sha256(), TestCheckpoints.sha256Hex(store.open(stored.uri())));
    }

    @Test
    void aFailedMultipartUploadIsAborted() {
        assertThrows(CheckpointStoreException.class, () -> store.put("job-a", "ckpt-1", out -> {
            TestCheckpoints.writePseudoRandom(out, 1, 9L << 20);
            throw new java.io.IOException("writer failed");
        }));
        assertEquals(List.of("CreateMultipartUploadRequest", "UploadPartRequest", "AbortMultipartUploadRequest"), requests);
    }

    @Test
    void anS3LocationBuildsAStoreThatOwnsItsClient() throws Exception {
        try (CheckpointStore other = CheckpointStores.forLocation("s3://" + bucket + "/" + PREFIX, server.settings())) {
            StoredCheckpoint stored = other.put("job-loc", "ckpt-1", out -> out.write(new byte[]{1, 2, 3}));
            assertEquals(List.of("ckpt-1"), ids("job-loc"), "the store under test sees what the other wrote");
            assertEquals(3, TestCheckpoints.readAll(store.open(stored.uri())).length);
        }
    }

    @Test
    void badCredentialsAreAnIoErrorNotAMissingBlob() throws Exception {
        StoredCheckpoint stored = putText("job-auth", "ckpt-1", "secret");
        var wrong = S3Settings.compatible(server.endpoint(), S3ProxyServer.ACCESS_KEY, "not-the-secret");
        try (var other = new S3CheckpointStore(wrong.newClient(), bucket, PREFIX, S3CheckpointStore.DEFAULT_PART_BYTES, true)) {
            var e = assertThrows(CheckpointStoreException.class, () -> other.open(stored.uri()));
            assertEquals(CheckpointStoreException.Reason.IO, e.reason());
        }
    }

    @Test
    void aServerThatHangsFailsAPutWithinTheAttemptTimeouts() throws Exception {
        // Accepts connections and never answers: without a per-attempt timeout a put would wait for the sockets.
        try (var silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            List<java.net.Socket> held = new CopyOnWriteArrayList<>();
            Thread acceptor = Thread.ofVirtual().start(() -> {
                try {
                    while (true) held.add(silent.accept());
                } catch (java.io.IOException closed) {
                    // the test is over
                }
            });
            URI endpoint = URI.create("http://localhost:" + silent.getLocalPort());
            var hanging = new S3Settings(endpoint, null, true, S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY,
                    Duration.ofMillis(300));
            long start = System.nanoTime();
            try (var other = new S3CheckpointStore(hanging.newClient(), bucket, PREFIX, S3CheckpointStore.DEFAULT_PART_BYTES, true)) {
                var e = assertThrows(CheckpointStoreException.class,
                        () -> other.put("job-hung", "ckpt-1", out -> out.write(new byte[]{1, 2, 3})));
                assertEquals(CheckpointStoreException.Reason.IO, e.reason());
            }
            // The SDK's attempts (4 by default) of 300 ms each plus back-off: seconds, not the sockets' minutes.
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertTrue(took.compareTo(Duration.ofSeconds(30)) < 0, "the put gave up after " + took);
            silent.close();
            acceptor.join();
            for (java.net.Socket socket : held) socket.close();
        }
    }
}
