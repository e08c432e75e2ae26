package dev.lethe.store;

import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * An output stream into one S3 object that holds at most two parts in memory. A blob that fits in one part
 * goes up as a single PutObject; a larger one as a multipart upload, each full part uploaded in the
 * background while the writer fills the next one (so producing and uploading overlap, and a slow network
 * holds the writer back by at most one part). Either way the object appears only when {@link #finish}
 * succeeds (S3 makes an object visible whole, on PutObject or CompleteMultipartUpload), and {@link #abort}
 * drops the parts of a failed one.
 */
final class MultipartUploadStream extends OutputStream {
    /** S3 refuses parts under 5 MiB, except the last one. */
    static final int MIN_PART_BYTES = 5 << 20;
    /** S3 allows at most this many parts in one upload. */
    static final int MAX_PARTS = 10_000;
    private static final String CONTENT_TYPE = "application/octet-stream";

    private final S3Client client;
    private final String bucket;
    private final String key;
    private final int partBytes;
    private final List<CompletedPart> parts = new ArrayList<>();
    private byte[] buffer;
    /** The buffer of the part in flight, reused once that part is up; null until the second part. */
    private byte[] spare;
    private int filled;
    private String uploadId;
    private ExecutorService uploader;
    private Future<CompletedPart> inFlight;

    MultipartUploadStream(S3Client client, String bucket, String key, int partBytes) {
        if (partBytes < MIN_PART_BYTES) throw new IllegalArgumentException("part size " + partBytes + " is below S3's minimum of " + MIN_PART_BYTES);
        this.client = client;
        this.bucket = bucket;
        this.key = key;
        this.partBytes = partBytes;
        this.buffer = new byte[partBytes];
    }

    @Override
    public void write(int b) throws IOException {
        if (filled == buffer.length) startPart();
        buffer[filled++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            if (filled == buffer.length) startPart();
            int n = Math.min(len, buffer.length - filled);
            System.arraycopy(b, off, buffer, filled, n);
            filled += n;
            off += n;
            len -= n;
        }
    }

    /** Makes the object visible: one PutObject, or the last part and CompleteMultipartUpload. */
    void finish() throws IOException {
        if (uploadId == null) {
            client.putObject(PutObjectRequest.builder().bucket(bucket).key(key).contentType(CONTENT_TYPE).build(),
                    body(buffer, filled));
            return;
        }
        if (filled > 0) startPart();
        awaitInFlight();
        uploader.close();
        client.completeMultipartUpload(CompleteMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(uploadId)
                .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()).build());
    }

    /** Drops an unfinished multipart upload, so its parts stop costing storage. Best effort. */
    void abort(Throwable cause) {
        if (uploadId == null) return;
        try {
            if (inFlight != null) inFlight.get();
        } catch (InterruptedException | ExecutionException | CancellationException e) {
            // The part's own failure (if any) is beside the point: the whole upload is dropped.
        } finally {
            uploader.close();
        }
        try {
            client.abortMultipartUpload(AbortMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(uploadId).build());
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    /** Hands the full buffer to the uploader (after the part before it is up) and carries on in the other one. */
    private void startPart() throws IOException {
        if (uploadId == null) {
            uploadId = client.createMultipartUpload(CreateMultipartUploadRequest.builder().bucket(bucket).key(key)
                    .contentType(CONTENT_TYPE).build()).uploadId();
            uploader = Executors.newSingleThreadExecutor(Thread.ofVirtual().name("s3-part-upload").factory());
            spare = new byte[partBytes];
        }
        awaitInFlight();
        int number = parts.size() + 1;
        if (number > MAX_PARTS) {
            throw new IllegalStateException("checkpoint larger than " + MAX_PARTS + " parts of " + partBytes
                    + " bytes: raise the part size");
        }
        byte[] full = buffer;
        int length = filled;
        inFlight = uploader.submit(() -> {
            var response = client.uploadPart(UploadPartRequest.builder().bucket(bucket).key(key).uploadId(uploadId)
                    .partNumber(number).contentLength((long) length).build(), body(full, length));
            return CompletedPart.builder().partNumber(number).eTag(response.eTag()).build();
        });
        buffer = spare;
        spare = full;
        filled = 0;
    }

    /** Waits for the part in flight; its buffer is then free to refill. Rethrows its failure. */
    private void awaitInFlight() throws IOException {
        if (inFlight == null) return;
        try {
            parts.add(inFlight.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while uploading part " + (parts.size() + 1) + " of " + key);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IOException("uploading part " + (parts.size() + 1) + " of " + key + " failed", e.getCause());
        } finally {
            inFlight = null;
        }
    }

    /**
     * A buffer's bytes as a request body, without a copy: the buffer is not refilled until its upload is
     * done, and a retry gets a fresh stream over the same bytes.
     */
    private static RequestBody body(byte[] bytes, int length) {
        return RequestBody.fromContentProvider(() -> new ByteArrayInputStream(bytes, 0, length), length, CONTENT_TYPE);
    }
}
