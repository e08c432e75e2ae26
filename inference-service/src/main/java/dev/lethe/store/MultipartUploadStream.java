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
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * An output stream into one S3 object that holds at most one part in memory. A blob that fits in one part
 * goes up as a single PutObject; a larger one as a multipart upload, a part each time the buffer fills.
 * Either way the object appears only when {@link #finish} succeeds (S3 makes an object visible whole, on
 * PutObject or CompleteMultipartUpload), and {@link #abort} drops the parts of a failed one.
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
    private final byte[] buffer;
    private final List<CompletedPart> parts = new ArrayList<>();
    private int filled;
    private String uploadId;

    MultipartUploadStream(S3Client client, String bucket, String key, int partBytes) {
        if (partBytes < MIN_PART_BYTES) throw new IllegalArgumentException("part size " + partBytes + " is below S3's minimum of " + MIN_PART_BYTES);
        this.client = client;
        this.bucket = bucket;
        this.key = key;
        this.buffer = new byte[partBytes];
    }

    @Override
    public void write(int b) throws IOException {
        if (filled == buffer.length) uploadPart();
        buffer[filled++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            if (filled == buffer.length) uploadPart();
            int n = Math.min(len, buffer.length - filled);
            System.arraycopy(b, off, buffer, filled, n);
            filled += n;
            off += n;
            len -= n;
        }
    }

    /** Whether the blob went up in parts (it was larger than one part). */
    boolean multipart() {
        return uploadId != null;
    }

    /** Makes the object visible: one PutObject, or the last part and CompleteMultipartUpload. */
    void finish() {
        if (uploadId == null) {
            client.putObject(PutObjectRequest.builder().bucket(bucket).key(key).contentType(CONTENT_TYPE).build(), body());
            return;
        }
        if (filled > 0) uploadPart();
        client.completeMultipartUpload(CompleteMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(uploadId)
                .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()).build());
    }

    /** Drops an unfinished multipart upload, so its parts stop costing storage. Best effort. */
    void abort(Throwable cause) {
        if (uploadId == null) return;
        try {
            client.abortMultipartUpload(AbortMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(uploadId).build());
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    private void uploadPart() {
        if (uploadId == null) {
            uploadId = client.createMultipartUpload(CreateMultipartUploadRequest.builder().bucket(bucket).key(key)
                    .contentType(CONTENT_TYPE).build()).uploadId();
        }
        int number = parts.size() + 1;
        if (number > MAX_PARTS) {
            throw new IllegalStateException("checkpoint larger than " + MAX_PARTS + " parts of " + buffer.length
                    + " bytes: raise the part size");
        }
        var response = client.uploadPart(UploadPartRequest.builder().bucket(bucket).key(key).uploadId(uploadId)
                .partNumber(number).contentLength((long) filled).build(), body());
        parts.add(CompletedPart.builder().partNumber(number).eTag(response.eTag()).build());
        filled = 0;
    }

    /**
     * The buffer's bytes as a request body, without a copy: the call is synchronous, so the buffer is not
     * refilled until the SDK is done with it, and a retry gets a fresh stream over the same bytes.
     */
    private RequestBody body() {
        int length = filled;
        return RequestBody.fromContentProvider(() -> new ByteArrayInputStream(buffer, 0, length), length, CONTENT_TYPE);
    }
}
