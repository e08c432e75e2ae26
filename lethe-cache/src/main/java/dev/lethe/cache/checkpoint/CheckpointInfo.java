package dev.lethe.cache.checkpoint;

import java.util.HexFormat;

/**
 * What writing a checkpoint produced: its size in bytes and the SHA-256 in its trailer, which covers every byte
 * before the trailer. (A store's and a manifest's {@code sha256} is another digest: of the whole blob, trailer
 * included, checked as the blob is read back.)
 */
public record CheckpointInfo(long bytes, byte[] sha256) {
    public CheckpointInfo {
        sha256 = sha256.clone();
    }

    @Override
    public byte[] sha256() {
        return sha256.clone();
    }

    public String sha256Hex() {
        return HexFormat.of().formatHex(sha256);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof CheckpointInfo i && bytes == i.bytes && java.util.Arrays.equals(sha256, i.sha256);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(bytes) * 31 + java.util.Arrays.hashCode(sha256);
    }

    @Override
    public String toString() {
        return "CheckpointInfo[bytes=" + bytes + ", sha256=" + sha256Hex() + "]";
    }
}
