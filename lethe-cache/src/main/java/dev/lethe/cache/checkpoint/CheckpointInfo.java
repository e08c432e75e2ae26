package dev.lethe.cache.checkpoint;

import java.util.HexFormat;

/** What writing a checkpoint produced: its size and SHA-256 (the manifest's {@code bytes} and {@code sha256}). */
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
