package dev.lethe.store;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Streams a blob and, when it ends, checks its size and SHA-256 against a manifest's claim. A mismatch fails
 * that last read with a {@code CORRUPT} {@link CheckpointStoreException}, so a reader that consumes the
 * stream to its end (as {@code CheckpointCodec.read} does) cannot miss it.
 */
final class VerifyingInputStream extends FilterInputStream {
    private final URI uri;
    private final long expectedBytes;
    private final byte[] expectedSha;
    private final MessageDigest digest = HashingOutputStream.sha256();
    private long count;
    private boolean verified;

    VerifyingInputStream(InputStream in, URI uri, long expectedBytes, String expectedSha256Hex) throws CheckpointStoreException {
        super(in);
        this.uri = uri;
        this.expectedBytes = expectedBytes;
        try {
            this.expectedSha = HexFormat.of().parseHex(expectedSha256Hex);
        } catch (IllegalArgumentException e) {
            throw CheckpointStoreException.invalid("expected SHA-256 '" + expectedSha256Hex + "' is not hex");
        }
        if (expectedSha.length != 32) throw CheckpointStoreException.invalid("expected SHA-256 has " + expectedSha.length + " bytes, not 32");
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b < 0) {
            verify();
        } else {
            digest.update((byte) b);
            count++;
            if (count > expectedBytes) throw corrupt("longer than the " + expectedBytes + " bytes claimed");
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n < 0) {
            verify();
        } else {
            digest.update(b, off, n);
            count += n;
            if (count > expectedBytes) throw corrupt("longer than the " + expectedBytes + " bytes claimed");
        }
        return n;
    }

    /** Skipped bytes must still be hashed, so skipping reads them. */
    @Override
    public long skip(long n) throws IOException {
        byte[] buffer = new byte[(int) Math.min(8192, Math.max(n, 1))];
        long skipped = 0;
        while (skipped < n) {
            int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
            if (r < 0) break;
            skipped += r;
        }
        return skipped;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    private void verify() throws CheckpointStoreException {
        if (verified) return;
        verified = true;
        if (count != expectedBytes) throw corrupt("has " + count + " bytes, the manifest claims " + expectedBytes);
        byte[] actual = digest.digest();
        if (!MessageDigest.isEqual(actual, expectedSha)) {
            throw corrupt("SHA-256 is " + HexFormat.of().formatHex(actual) + ", the manifest claims "
                    + HexFormat.of().formatHex(expectedSha));
        }
    }

    private CheckpointStoreException corrupt(String what) {
        return new CheckpointStoreException(CheckpointStoreException.Reason.CORRUPT, "checkpoint blob " + uri + " " + what, null);
    }
}
