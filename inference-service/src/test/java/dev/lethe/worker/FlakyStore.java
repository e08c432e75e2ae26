package dev.lethe.worker;

import dev.lethe.store.CheckpointBlob;
import dev.lethe.store.CheckpointKeys;
import dev.lethe.store.CheckpointStore;
import dev.lethe.store.CheckpointStoreException;
import dev.lethe.store.CheckpointWriter;
import dev.lethe.store.StoredCheckpoint;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.ConnectException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-memory checkpoint store that fails every call while it is {@link #down}, as a store behind a dead network
 * does. Each blob it keeps is stored one second after the previous one (its own clock), so that "older" is exact.
 */
final class FlakyStore implements CheckpointStore {
    volatile boolean down;
    final AtomicInteger puts = new AtomicInteger();
    final AtomicInteger deletes = new AtomicInteger();
    private final Map<URI, Entry> blobs = new LinkedHashMap<>();
    private Instant clock = Instant.parse("2026-01-01T00:00:00Z");

    private record Entry(CheckpointBlob blob, byte[] bytes) {}

    private void check(String what) throws CheckpointStoreException {
        if (down) throw CheckpointStoreException.io(what + " failed", new ConnectException("Connection refused"));
    }

    @Override
    public synchronized StoredCheckpoint put(String jobId, String checkpointId, CheckpointWriter writer) throws CheckpointStoreException {
        puts.incrementAndGet();
        check("put " + jobId + "/" + checkpointId);
        CheckpointKeys.requireId("job id", jobId);
        CheckpointKeys.requireId("checkpoint id", checkpointId);
        var out = new ByteArrayOutputStream();
        try {
            writer.writeTo(out);
        } catch (IOException e) {
            throw CheckpointStoreException.io("writing " + checkpointId, e);
        }
        byte[] bytes = out.toByteArray();
        URI uri = uriOf(jobId, checkpointId);
        clock = clock.plusSeconds(1);
        blobs.put(uri, new Entry(new CheckpointBlob(jobId, checkpointId, uri, bytes.length, clock), bytes));
        return new StoredCheckpoint(jobId, checkpointId, uri, bytes.length, sha256(bytes));
    }

    @Override
    public synchronized InputStream open(URI uri) throws CheckpointStoreException {
        check("open " + uri);
        Entry entry = blobs.get(uri);
        if (entry == null) throw CheckpointStoreException.missing("no blob " + uri, null);
        return new ByteArrayInputStream(entry.bytes());
    }

    @Override
    public synchronized void delete(URI uri) throws CheckpointStoreException {
        check("delete " + uri);
        deletes.incrementAndGet();
        blobs.remove(uri);
    }

    @Override
    public synchronized List<CheckpointBlob> list(String jobId) throws CheckpointStoreException {
        check("list " + jobId);
        List<CheckpointBlob> listed = new ArrayList<>();
        for (Entry entry : blobs.values()) {
            if (entry.blob().jobId().equals(jobId)) listed.add(entry.blob());
        }
        return listed;
    }

    @Override
    public synchronized int deleteAllFor(String jobId) throws CheckpointStoreException {
        List<CheckpointBlob> listed = list(jobId);
        for (CheckpointBlob blob : listed) delete(blob.uri());
        return listed.size();
    }

    /** The ids of the job's blobs, oldest first, read past an outage (a test's view of what is really there). */
    synchronized List<String> ids(String jobId) {
        return blobs.values().stream().map(Entry::blob).filter(b -> b.jobId().equals(jobId)).map(CheckpointBlob::checkpointId).toList();
    }

    @Override
    public String describe() {
        return "flaky:memory";
    }

    private static URI uriOf(String jobId, String checkpointId) {
        return URI.create("flaky:/" + jobId + "/" + CheckpointKeys.blobName(checkpointId));
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
