package dev.lethe.store;

import java.net.URI;
import java.nio.file.Path;

/** Builds a checkpoint store from one location setting, as a worker's configuration gives it. */
public final class CheckpointStores {
    private CheckpointStores() {
    }

    /**
     * A store at {@code location}: {@code file:/var/lethe/checkpoints} (or a plain path) for a
     * {@link DirectoryCheckpointStore}, {@code s3://bucket/optional/prefix} for an {@link S3CheckpointStore}
     * whose client comes from {@code s3} (which may be {@code null} for a directory).
     */
    public static CheckpointStore forLocation(String location, S3Settings s3) throws CheckpointStoreException {
        if (location == null || location.isBlank()) throw CheckpointStoreException.invalid("checkpoint store location is empty");
        if (location.startsWith("file:")) return new DirectoryCheckpointStore(Path.of(URI.create(location)));
        if (location.startsWith("s3://")) {
            URI uri = URI.create(location);
            if (uri.getAuthority() == null) throw CheckpointStoreException.invalid("checkpoint store " + location + " names no bucket");
            if (s3 == null) throw CheckpointStoreException.invalid("checkpoint store " + location + " needs S3 settings");
            return S3CheckpointStore.create(s3, uri.getAuthority(), uri.getPath() == null ? "" : uri.getPath());
        }
        if (location.matches("[A-Za-z][A-Za-z0-9+.-]*://.*")) {
            throw CheckpointStoreException.invalid("checkpoint store location " + location + " is neither a path, a file: URI nor an s3:// bucket");
        }
        return new DirectoryCheckpointStore(Path.of(location));
    }
}
