package dev.lethe.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DirectoryCheckpointStoreTest extends CheckpointStoreContract {
    @TempDir
    Path root;

    @Override
    protected CheckpointStore newStore() throws Exception {
        return new DirectoryCheckpointStore(root.resolve("checkpoints"));
    }

    @Override
    protected void corruptInStorage(URI uri, long offset) throws IOException {
        try (FileChannel channel = FileChannel.open(Path.of(uri), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            channel.read(one, offset);
            one.put(0, (byte) (one.get(0) ^ 0x10)).rewind();
            channel.write(one, offset);
        }
    }

    /** Modification times have nanosecond resolution on the file systems a worker uses. */
    @Override
    protected Duration clockTick() {
        return Duration.ofMillis(20);
    }

    @Override
    protected List<String> childStoreArguments() {
        return List.of(root.resolve("checkpoints").toUri().toString());
    }

    @Test
    void blobsLieWhereTheLayoutSaysWithNoTemporaryFilesLeft() throws Exception {
        StoredCheckpoint stored = putText("job-7f3a", "ckpt-3", "content");
        Path file = root.resolve("checkpoints").resolve("job-7f3a").resolve("ckpt-3.lkv");
        assertEquals(file.toUri(), stored.uri());
        assertEquals("content", Files.readString(file));
        try (var names = Files.list(file.getParent())) {
            assertEquals(List.of("ckpt-3.lkv"), names.map(p -> p.getFileName().toString()).toList());
        }
        assertThrows(CheckpointStoreException.class, () -> store.put("job-7f3a", "ckpt-4", out -> {
            out.write(1);
            throw new IOException("boom");
        }));
        try (var names = Files.list(file.getParent())) {
            assertEquals(List.of("ckpt-3.lkv"), names.map(p -> p.getFileName().toString()).toList(), "the failed put's temp file is gone");
        }
    }

    @Test
    void deleteAllForAlsoRemovesACrashedPutsTemporaryFileAndTheDirectory() throws Exception {
        putText("job-t", "ckpt-1", "x");
        Path dir = root.resolve("checkpoints").resolve("job-t");
        Files.writeString(dir.resolve(".ckpt-2.lkv.1234abcd.tmp"), "half a checkpoint from a crashed worker");
        assertEquals(List.of("ckpt-1"), ids("job-t"), "temporary files are not checkpoints");
        assertEquals(1, store.deleteAllFor("job-t"));
        assertFalse(Files.exists(dir));
    }

    @Test
    void aUriWithDotDotCannotReachOutsideTheRoot() {
        URI sneaky = URI.create(root.resolve("checkpoints").toUri() + "job-a/../../outside/ckpt-1.lkv");
        var e = assertThrows(CheckpointStoreException.class, () -> store.open(sneaky));
        assertEquals(CheckpointStoreException.Reason.INVALID, e.reason());
    }

    @Test
    void locationsNameTheirStore() throws Exception {
        try (var byPath = CheckpointStores.forLocation(root.resolve("a").toString(), null);
             var byUri = CheckpointStores.forLocation(root.resolve("b").toUri().toString(), null)) {
            assertTrue(byPath instanceof DirectoryCheckpointStore d && d.root().equals(root.resolve("a")));
            assertTrue(byUri instanceof DirectoryCheckpointStore d && d.root().equals(root.resolve("b")));
        }
        assertEquals(CheckpointStoreException.Reason.INVALID,
                assertThrows(CheckpointStoreException.class, () -> CheckpointStores.forLocation("s3://bucket/p", null)).reason());
        assertEquals(CheckpointStoreException.Reason.INVALID,
                assertThrows(CheckpointStoreException.class, () -> CheckpointStores.forLocation("gs://bucket/p", null)).reason());
    }
}
