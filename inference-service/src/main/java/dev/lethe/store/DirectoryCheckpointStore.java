package dev.lethe.store;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

/**
 * Checkpoints as files {@code root/<jobId>/<checkpointId>.lkv}: for one node, or many sharing a volume.
 *
 * <p>A put writes a hidden temporary file beside the target ({@code .<name>.<random>.tmp}), forces it to
 * the disk, renames it over the target atomically and forces the directory, so a crash at any point leaves
 * either the old blob or the new one, and a reader never opens half a checkpoint.
 */
public final class DirectoryCheckpointStore implements CheckpointStore {
    private static final int BUFFER_BYTES = 1 << 16;
    private static final String TEMP_SUFFIX = ".tmp";

    private final Path root;

    public DirectoryCheckpointStore(Path root) throws CheckpointStoreException {
        this.root = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.root);
        } catch (IOException e) {
            throw CheckpointStoreException.io("cannot create checkpoint directory " + this.root, e);
        }
    }

    public Path root() {
        return root;
    }

    @Override
    public StoredCheckpoint put(String jobId, String checkpointId, CheckpointWriter writer) throws CheckpointStoreException {
        CheckpointKeys.requireId("job id", jobId);
        CheckpointKeys.requireId("checkpoint id", checkpointId);
        Path dir = root.resolve(jobId);
        Path target = dir.resolve(CheckpointKeys.blobName(checkpointId));
        Path temp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + TEMP_SUFFIX);
        try {
            createJobDirectory(dir);
            HashingOutputStream hashing;
            try (FileChannel channel = FileChannel.open(temp, CREATE_NEW, WRITE)) {
                var buffered = new BufferedOutputStream(Channels.newOutputStream(channel), BUFFER_BYTES);
                hashing = new HashingOutputStream(buffered);
                writer.writeTo(hashing);
                buffered.flush();
                channel.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            forceDirectory(dir);
            return new StoredCheckpoint(jobId, checkpointId, target.toUri(), hashing.count(), hashing.sha256Hex());
        } catch (IOException e) {
            deleteQuietly(temp);
            if (e instanceof CheckpointStoreException s) throw s;
            throw CheckpointStoreException.io("writing checkpoint " + checkpointId + " of job " + jobId + " to " + target + " failed", e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(temp);
            throw e;
        }
    }

    @Override
    public InputStream open(URI uri) throws CheckpointStoreException {
        Path path = pathOf(uri);
        try {
            return Files.newInputStream(path, READ);
        } catch (NoSuchFileException e) {
            throw CheckpointStoreException.missing("no checkpoint blob at " + uri, e);
        } catch (IOException e) {
            throw CheckpointStoreException.io("cannot open checkpoint blob " + uri, e);
        }
    }

    @Override
    public void delete(URI uri) throws CheckpointStoreException {
        Path path = pathOf(uri);
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw CheckpointStoreException.io("cannot delete checkpoint blob " + uri, e);
        }
    }

    @Override
    public List<CheckpointBlob> list(String jobId) throws CheckpointStoreException {
        CheckpointKeys.requireId("job id", jobId);
        Path dir = root.resolve(jobId);
        var blobs = new ArrayList<CheckpointBlob>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                String id = CheckpointKeys.checkpointIdOf(file.getFileName().toString());
                if (id == null) continue;
                BasicFileAttributes attributes;
                try {
                    attributes = Files.readAttributes(file, BasicFileAttributes.class);
                } catch (NoSuchFileException deletedMeanwhile) {
                    continue;
                }
                blobs.add(new CheckpointBlob(jobId, id, file.toUri(), attributes.size(), attributes.lastModifiedTime().toInstant()));
            }
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw CheckpointStoreException.io("cannot list checkpoints of job " + jobId + " in " + dir, e);
        }
        blobs.sort(Comparator.comparing(CheckpointBlob::storedAt).thenComparing(CheckpointBlob::checkpointId));
        return List.copyOf(blobs);
    }

    /** Also removes the temporary files of puts that died half-way, then the job's directory. */
    @Override
    public int deleteAllFor(String jobId) throws CheckpointStoreException {
        List<CheckpointBlob> blobs = list(jobId);
        for (CheckpointBlob blob : blobs) delete(blob.uri());
        Path dir = root.resolve(jobId);
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(dir, ".*" + TEMP_SUFFIX)) {
            for (Path temp : leftovers) Files.deleteIfExists(temp);
            Files.deleteIfExists(dir);
        } catch (NoSuchFileException | DirectoryNotEmptyException e) {
            // Gone already, or a put raced in after the job ended: its blob stays until the next clean-up.
        } catch (IOException e) {
            throw CheckpointStoreException.io("cannot remove the checkpoint directory of job " + jobId, e);
        }
        return blobs.size();
    }

    @Override
    public String describe() {
        return "dir:" + root;
    }

    /** The file a URI names, if it is one of this store's blobs: never a path outside the root. */
    private Path pathOf(URI uri) throws CheckpointStoreException {
        if (uri == null || !"file".equals(uri.getScheme())) {
            throw CheckpointStoreException.invalid("not a file: URI of a directory checkpoint store: " + uri);
        }
        Path path;
        try {
            path = Path.of(uri).normalize();
        } catch (IllegalArgumentException | FileSystemNotFoundException e) {
            throw CheckpointStoreException.invalid("malformed checkpoint URI " + uri + ": " + e.getMessage());
        }
        Path job = path.getParent();
        if (job == null || !root.equals(job.getParent())
                || CheckpointKeys.checkpointIdOf(path.getFileName().toString()) == null
                || !CheckpointKeys.ID_PATTERN.matcher(job.getFileName().toString()).matches()) {
            throw CheckpointStoreException.invalid("checkpoint URI " + uri + " is not of the form " + root.toUri()
                    + "<jobId>/<checkpointId>" + CheckpointKeys.SUFFIX);
        }
        return path;
    }

    /** A new job directory is made durable too: its entry in the root must survive a crash with the blob. */
    private void createJobDirectory(Path dir) throws IOException {
        if (Files.isDirectory(dir)) return;
        Files.createDirectories(dir);
        forceDirectory(root);
    }

    private static void forceDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, READ)) {
            channel.force(true);
        }
    }

    private static void deleteQuietly(Path temp) {
        try {
            Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // The put already failed with the real cause; a stray temp file is removed by deleteAllFor.
        }
    }
}
