package dev.lethe.store;

import dev.lethe.cache.checkpoint.CheckpointFormatException;
import dev.lethe.store.CheckpointStoreException.Reason;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.lethe.store.TestCheckpoints.MODEL;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What every {@link CheckpointStore} must do; each store's test runs it against a real backend. */
abstract class CheckpointStoreContract {
    /** Size of the blob streamed by a child JVM whose heap is smaller than it. */
    static final long LARGE_BLOB_BYTES = 64L << 20;
    static final String CHILD_HEAP = "-Xmx40m";

    protected CheckpointStore store;

    /** A fresh, empty store on the backend. */
    protected abstract CheckpointStore newStore() throws Exception;

    /** Flips one byte of the stored blob at {@code offset}, behind the store's back. */
    protected abstract void corruptInStorage(URI uri, long offset) throws Exception;

    /** How far apart two puts must be for the store's modification times to tell them apart. */
    protected abstract Duration clockTick();

    /** Arguments for {@link LargeBlobWriter} that reach the same backend from another JVM. */
    protected abstract List<String> childStoreArguments();

    /** What the store can check of how a large blob was uploaded (S3: in parts). */
    protected void assertLargeUpload(StoredCheckpoint stored) throws Exception {
    }

    @BeforeEach
    void openStore() throws Exception {
        store = newStore();
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    @Test
    void realCheckpointRoundTripsBitExactWithTheCodecsSizeAndDigest() throws Exception {
        var sequence = TestCheckpoints.sequence(7);
        try (var cache = TestCheckpoints.cache(7, 40, 60)) {
            var encoded = TestCheckpoints.encode(cache, sequence);
            var info = new dev.lethe.cache.checkpoint.CheckpointInfo[1];
            StoredCheckpoint stored = store.put("job-a", "ckpt-1",
                    out -> info[0] = dev.lethe.cache.checkpoint.CheckpointCodec.write(out, MODEL, cache, sequence));

            assertEquals(info[0].bytes(), stored.bytes(), "bytes reported by the store and the codec");
            byte[] blob = TestCheckpoints.readAll(store.open(stored.uri()));
            assertArrayEquals(encoded.bytes(), blob, "the stored blob is the codec's output");
            assertEquals(TestCheckpoints.sha256Hex(blob), stored.sha256(), "SHA-256 of the whole blob");
            assertArrayEquals(info[0].sha256(), Arrays.copyOfRange(blob, blob.length - 32, blob.length),
                    "the codec's digest is the blob's trailer");
            assertEquals("job-a", stored.jobId());
            assertEquals("ckpt-1", stored.checkpointId());
            assertTrue(stored.uri().toString().endsWith("/job-a/ckpt-1.lkv"), stored.uri().toString());

            try (var in = store.openVerified(stored.uri(), stored.bytes(), stored.sha256());
                 var restored = TestCheckpoints.decode(in).cache()) {
                TestCheckpoints.assertSameCache(cache, restored, sequence);
            }
            try (var in = store.open(stored.uri())) {
                var restored = TestCheckpoints.decode(in);
                try (var c = restored.cache()) {
                    assertEquals(sequence, restored.sequence());
                }
            }
        }
    }

    @Test
    void listShowsTheJobsCheckpointsOldestFirstAndNothingElse() throws Exception {
        assertEquals(List.of(), store.list("job-empty"));
        StoredCheckpoint first = putText("job-l", "ckpt-1", "first");
        StoredCheckpoint second = putText("job-l", "ckpt-2", "second, longer");
        putText("job-other", "ckpt-1", "another job");

        List<CheckpointBlob> listed = store.list("job-l");
        assertEquals(List.of("ckpt-1", "ckpt-2"), listed.stream().map(CheckpointBlob::checkpointId).toList());
        assertEquals(List.of(first.uri(), second.uri()), listed.stream().map(CheckpointBlob::uri).toList());
        assertEquals(List.of(5L, 14L), listed.stream().map(CheckpointBlob::bytes).toList());
        assertTrue(listed.stream().allMatch(b -> b.jobId().equals("job-l")));
    }

    @Test
    void putWithTheSameIdsReplacesTheBlob() throws Exception {
        StoredCheckpoint first = putText("job-r", "ckpt-1", "old contents");
        StoredCheckpoint second = putText("job-r", "ckpt-1", "new");
        assertEquals(first.uri(), second.uri());
        assertEquals("new", new String(TestCheckpoints.readAll(store.open(second.uri())), StandardCharsets.UTF_8));
        assertEquals(1, store.list("job-r").size());
    }

    @Test
    void deleteOlderThanKeepsTheGivenCheckpointAndAnyStoredAfterIt() throws Exception {
        putText("job-d", "ckpt-1", "one");
        putText("job-d", "ckpt-2", "two");
        StoredCheckpoint keep = putText("job-d", "ckpt-3", "three");
        assertEquals(2, store.deleteOlderThan("job-d", "ckpt-3"));
        assertEquals(List.of("ckpt-3"), ids("job-d"));

        Thread.sleep(clockTick().toMillis());
        putText("job-d", "ckpt-4", "a newer owner's");
        assertEquals(0, store.deleteOlderThan("job-d", "ckpt-3"), "a checkpoint stored after the kept one survives");
        assertEquals(List.of("ckpt-3", "ckpt-4"), ids("job-d"));

        var e = assertThrows(CheckpointStoreException.class, () -> store.deleteOlderThan("job-d", "ckpt-never-written"));
        assertEquals(Reason.MISSING, e.reason());
        assertEquals(List.of("ckpt-3", "ckpt-4"), ids("job-d"), "nothing deleted when the kept checkpoint is missing");
        assertEquals("three", new String(TestCheckpoints.readAll(store.open(keep.uri())), StandardCharsets.UTF_8));
    }

    @Test
    void deleteAllForRemovesOnlyThatJob() throws Exception {
        putText("job-x", "ckpt-1", "a");
        putText("job-x", "ckpt-2", "b");
        StoredCheckpoint other = putText("job-y", "ckpt-1", "c");
        assertEquals(2, store.deleteAllFor("job-x"));
        assertEquals(List.of(), store.list("job-x"));
        assertEquals(0, store.deleteAllFor("job-x"));
        assertEquals(List.of("ckpt-1"), ids("job-y"));
        assertEquals("c", new String(TestCheckpoints.readAll(store.open(other.uri())), StandardCharsets.UTF_8));
    }

    @Test
    void aMissingBlobIsATypedError() throws Exception {
        StoredCheckpoint stored = putText("job-m", "ckpt-1", "here for a moment");
        store.delete(stored.uri());
        store.delete(stored.uri());
        var e = assertThrows(CheckpointStoreException.class, () -> store.open(stored.uri()));
        assertEquals(Reason.MISSING, e.reason());
        assertTrue(e.isMissing());
        assertTrue(e.getMessage().contains(stored.uri().toString()), e.getMessage());

        URI neverWritten = URI.create(stored.uri().toString().replace("ckpt-1.lkv", "ckpt-9.lkv"));
        assertEquals(Reason.MISSING, assertThrows(CheckpointStoreException.class, () -> store.open(neverWritten)).reason());
    }

    @Test
    void aByteFlippedInStorageFailsTheCodecsRead() throws Exception {
        var sequence = TestCheckpoints.sequence(3);
        try (var cache = TestCheckpoints.cache(3, 30, 30)) {
            long length = TestCheckpoints.encode(cache, sequence).bytes().length;
            for (long offset : new long[]{length / 2, length - 1}) {
                StoredCheckpoint stored = store.put("job-c", "ckpt-" + offset,
                        out -> dev.lethe.cache.checkpoint.CheckpointCodec.write(out, MODEL, cache, sequence));
                corruptInStorage(stored.uri(), offset);
                try (InputStream in = store.open(stored.uri())) {
                    assertThrows(CheckpointFormatException.class, () -> TestCheckpoints.decode(in), "flipped byte at " + offset);
                }
                try (InputStream in = store.openVerified(stored.uri(), stored.bytes(), stored.sha256())) {
                    IOException e = assertThrows(IOException.class, () -> TestCheckpoints.decode(in));
                    assertTrue(e instanceof CheckpointFormatException
                            || e instanceof CheckpointStoreException s && s.reason() == Reason.CORRUPT, e.toString());
                }
            }
        }
    }

    @Test
    void aVerifiedReadRefusesABlobThatIsNotTheOneClaimed() throws Exception {
        StoredCheckpoint stored = putText("job-v", "ckpt-1", "the real contents");
        String otherSha = TestCheckpoints.sha256Hex("other contents".getBytes(StandardCharsets.UTF_8));
        for (var claim : List.of(new Object[]{stored.bytes(), otherSha}, new Object[]{stored.bytes() + 1, stored.sha256()},
                new Object[]{stored.bytes() - 1, stored.sha256()})) {
            try (InputStream in = store.openVerified(stored.uri(), (Long) claim[0], (String) claim[1])) {
                var e = assertThrows(CheckpointStoreException.class, in::readAllBytes);
                assertEquals(Reason.CORRUPT, e.reason());
            }
        }
        try (InputStream in = store.openVerified(stored.uri(), stored.bytes(), stored.sha256())) {
            assertEquals("the real contents", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    @Test
    void aFailedWriteLeavesThePreviousBlobAndNothingHalfWritten() throws Exception {
        StoredCheckpoint previous = putText("job-f", "ckpt-1", "the good one");
        var e = assertThrows(CheckpointStoreException.class, () -> store.put("job-f", "ckpt-1", out -> {
            TestCheckpoints.writePseudoRandom(out, 1, 12L << 20);
            throw new IOException("the engine died mid-checkpoint");
        }));
        assertEquals(Reason.IO, e.reason());
        assertTrue(e.getMessage().contains("the engine died mid-checkpoint"), e.getMessage());
        assertThrows(CheckpointStoreException.class, () -> store.put("job-f", "ckpt-2", out -> {
            out.write(new byte[1000]);
            throw new IOException("died early");
        }));
        assertEquals(List.of("ckpt-1"), ids("job-f"));
        assertEquals("the good one", new String(TestCheckpoints.readAll(store.open(previous.uri())), StandardCharsets.UTF_8));
    }

    @Test
    void aReaderNeverSeesAHalfWrittenCheckpoint() throws Exception {
        StoredCheckpoint old = putText("job-h", "ckpt-1", "the old checkpoint");
        var halfWritten = new CountDownLatch(1);
        var finish = new CountDownLatch(1);
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try {
            Future<StoredCheckpoint> put = writer.submit(() -> store.put("job-h", "ckpt-1", out -> {
                TestCheckpoints.writePseudoRandom(out, 5, 6L << 20);
                halfWritten.countDown();
                await(finish);
                TestCheckpoints.writePseudoRandom(out, 6, 6L << 20);
            }));
            assertTrue(halfWritten.await(30, TimeUnit.SECONDS));
            assertEquals("the old checkpoint", new String(TestCheckpoints.readAll(store.open(old.uri())), StandardCharsets.UTF_8));
            assertEquals(List.of(18L), store.list("job-h").stream().map(CheckpointBlob::bytes).toList());
            finish.countDown();
            StoredCheckpoint fresh = put.get(60, TimeUnit.SECONDS);
            assertEquals(12L << 20, fresh.bytes());
            assertEquals(fresh.sha256(), TestCheckpoints.sha256Hex(store.open(fresh.uri())));
        } finally {
            finish.countDown();
            writer.shutdownNow();
        }
    }

    @Test
    void concurrentPutsOfDifferentJobsDoNotMix() throws Exception {
        int jobs = 6;
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            var futures = new ArrayList<Future<List<StoredCheckpoint>>>();
            for (int j = 0; j < jobs; j++) {
                int job = j;
                futures.add(pool.submit(() -> {
                    var stored = new ArrayList<StoredCheckpoint>();
                    for (int c = 0; c < 3; c++) {
                        long seed = job * 100L + c;
                        stored.add(store.put("job-" + job, "ckpt-" + c, out -> TestCheckpoints.writePseudoRandom(out, seed, 200_000 + seed)));
                    }
                    return stored;
                }));
            }
            for (int j = 0; j < jobs; j++) {
                List<StoredCheckpoint> stored = futures.get(j).get(60, TimeUnit.SECONDS);
                assertEquals(List.of("ckpt-0", "ckpt-1", "ckpt-2"), ids("job-" + j).stream().sorted().toList());
                for (int c = 0; c < 3; c++) {
                    long seed = j * 100L + c;
                    StoredCheckpoint s = stored.get(c);
                    assertEquals(200_000 + seed, s.bytes());
                    assertEquals(TestCheckpoints.pseudoRandomSha256(seed, 200_000 + seed), s.sha256());
                    assertEquals(s.sha256(), TestCheckpoints.sha256Hex(store.open(s.uri())), "job " + j + " ckpt " + c);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void idsThatCouldEscapeTheLayoutAreRefused() {
        for (String bad : List.of("", "..", "../etc", "a/b", ".hidden", "a\\b", "sp ace", "é", "x".repeat(129))) {
            var e = assertThrows(CheckpointStoreException.class, () -> putText(bad, "ckpt-1", "x"), bad);
            assertEquals(Reason.INVALID, e.reason());
            assertEquals(Reason.INVALID, assertThrows(CheckpointStoreException.class, () -> putText("job-ok", bad, "x"), bad).reason());
            assertEquals(Reason.INVALID, assertThrows(CheckpointStoreException.class, () -> store.list(bad), bad).reason());
        }
        for (String uri : List.of("file:///etc/passwd", "s3://elsewhere/job/ckpt.lkv", "http://host/job-ok/ckpt-1.lkv", "job-ok/ckpt-1.lkv")) {
            assertEquals(Reason.INVALID, assertThrows(CheckpointStoreException.class, () -> store.open(URI.create(uri)), uri).reason());
            assertEquals(Reason.INVALID, assertThrows(CheckpointStoreException.class, () -> store.delete(URI.create(uri)), uri).reason());
        }
    }

    /**
     * A blob larger than the writer's whole heap goes through: a store that buffered it would die of an
     * OutOfMemoryError in the child JVM.
     */
    @Test
    void aBlobLargerThanTheHeapStreamsThrough() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        var command = new ArrayList<>(List.of(java, CHILD_HEAP, "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                LargeBlobWriter.class.getName(), "job-large", "ckpt-1", "42", Long.toString(LARGE_BLOB_BYTES)));
        command.addAll(childStoreArguments());
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        var output = new ByteArrayOutputStream();
        child.getInputStream().transferTo(output);
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), "child finished");
        String text = output.toString(StandardCharsets.UTF_8);
        assertEquals(0, child.exitValue(), text);

        List<CheckpointBlob> listed = store.list("job-large");
        assertEquals(1, listed.size(), text);
        assertEquals(LARGE_BLOB_BYTES, listed.getFirst().bytes());
        String expectedSha = TestCheckpoints.pseudoRandomSha256(42, LARGE_BLOB_BYTES);
        assertTrue(text.contains("sha256=" + expectedSha), "the child's store reported the stream's digest: " + text);
        assertTrue(text.contains("bytes=" + LARGE_BLOB_BYTES), text);
        try (InputStream in = store.openVerified(listed.getFirst().uri(), LARGE_BLOB_BYTES, expectedSha)) {
            assertEquals(expectedSha, TestCheckpoints.sha256Hex(in));
        }
        assertLargeUpload(new StoredCheckpoint("job-large", "ckpt-1", listed.getFirst().uri(), LARGE_BLOB_BYTES, expectedSha));
    }

    StoredCheckpoint putText(String jobId, String checkpointId, String text) throws CheckpointStoreException {
        return store.put(jobId, checkpointId, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    List<String> ids(String jobId) throws CheckpointStoreException {
        return store.list(jobId).stream().map(CheckpointBlob::checkpointId).toList();
    }

    private static void await(CountDownLatch latch) throws IOException {
        try {
            if (!latch.await(60, TimeUnit.SECONDS)) throw new IOException("test never let the writer finish");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
