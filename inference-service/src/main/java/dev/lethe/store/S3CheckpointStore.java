package dev.lethe.store;

import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Checkpoints as objects {@code s3://<bucket>/<prefix>/<jobId>/<checkpointId>.lkv} in S3 or an S3-compatible
 * server. Uploads stream through one part-sized buffer (multipart above one part), downloads stream from
 * the response, so memory stays bounded whatever the checkpoint's size. An object becomes visible only
 * when its upload completes, which makes every put atomic.
 *
 * <p>A multipart upload cut short by a crash leaves parts behind that no listing shows; give the bucket
 * a lifecycle rule that aborts incomplete multipart uploads after a day.
 */
public final class S3CheckpointStore implements CheckpointStore {
    /** 8 MiB: 8 MiB of heap per put in flight, and up to 80 GB per checkpoint within S3's 10,000 parts. */
    public static final int DEFAULT_PART_BYTES = 8 << 20;
    private static final Pattern BUCKET = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{1,254}");
    private static final Pattern PREFIX_SEGMENT = Pattern.compile("[A-Za-z0-9._~-]+");

    private final S3Client client;
    private final String bucket;
    private final String keyPrefix;
    private final int partBytes;
    private final boolean ownsClient;

    /** A store over a client the caller owns (and closes), with {@link #DEFAULT_PART_BYTES}. */
    public S3CheckpointStore(S3Client client, String bucket, String prefix) {
        this(client, bucket, prefix, DEFAULT_PART_BYTES, false);
    }

    /**
     * @param prefix     key prefix ({@code ""} for none), slash-separated segments of {@code [A-Za-z0-9._~-]}
     * @param partBytes  size of each multipart part and of the one buffer a put holds, at least 5 MiB
     * @param ownsClient whether {@link #close} closes the client
     */
    public S3CheckpointStore(S3Client client, String bucket, String prefix, int partBytes, boolean ownsClient) {
        this.client = java.util.Objects.requireNonNull(client, "client");
        if (bucket == null || !BUCKET.matcher(bucket).matches()) throw new IllegalArgumentException("invalid S3 bucket name '" + bucket + "'");
        this.bucket = bucket;
        this.keyPrefix = normalizePrefix(prefix);
        if (partBytes < MultipartUploadStream.MIN_PART_BYTES) {
            throw new IllegalArgumentException("part size " + partBytes + " is below S3's minimum of " + MultipartUploadStream.MIN_PART_BYTES);
        }
        this.partBytes = partBytes;
        this.ownsClient = ownsClient;
    }

    /** A store whose client is built from {@code settings}, closed with the store. */
    public static S3CheckpointStore create(S3Settings settings, String bucket, String prefix) {
        return new S3CheckpointStore(settings.newClient(), bucket, prefix, DEFAULT_PART_BYTES, true);
    }

    @Override
    public StoredCheckpoint put(String jobId, String checkpointId, CheckpointWriter writer) throws CheckpointStoreException {
        CheckpointKeys.requireId("job id", jobId);
        CheckpointKeys.requireId("checkpoint id", checkpointId);
        String key = keyOf(jobId, checkpointId);
        var upload = new MultipartUploadStream(client, bucket, key, partBytes);
        var hashing = new HashingOutputStream(upload);
        try {
            writer.writeTo(hashing);
            upload.finish();
        } catch (IOException | SdkException e) {
            upload.abort(e);
            if (e instanceof CheckpointStoreException s) throw s;
            throw CheckpointStoreException.io("uploading checkpoint " + checkpointId + " of job " + jobId + " to " + uriOf(key) + " failed", e);
        } catch (RuntimeException | Error e) {
            upload.abort(e);
            throw e;
        }
        return new StoredCheckpoint(jobId, checkpointId, uriOf(key), hashing.count(), hashing.sha256Hex());
    }

    @Override
    public InputStream open(URI uri) throws CheckpointStoreException {
        String key = keyOf(uri);
        try {
            return client.getObject(GetObjectRequest.builder().bucket(bucket).key(key).build());
        } catch (NoSuchKeyException e) {
            throw CheckpointStoreException.missing("no checkpoint blob at " + uri, e);
        } catch (S3Exception e) {
            if (e.statusCode() == 404 && !"NoSuchBucket".equals(errorCode(e))) {
                throw CheckpointStoreException.missing("no checkpoint blob at " + uri, e);
            }
            throw CheckpointStoreException.io("cannot open checkpoint blob " + uri, e);
        } catch (SdkException e) {
            throw CheckpointStoreException.io("cannot open checkpoint blob " + uri, e);
        }
    }

    @Override
    public void delete(URI uri) throws CheckpointStoreException {
        String key = keyOf(uri);
        try {
            client.deleteObject(DeleteObjectRequest.builder().bucket(bucket).key(key).build());
        } catch (SdkException e) {
            throw CheckpointStoreException.io("cannot delete checkpoint blob " + uri, e);
        }
    }

    @Override
    public List<CheckpointBlob> list(String jobId) throws CheckpointStoreException {
        CheckpointKeys.requireId("job id", jobId);
        String jobPrefix = keyPrefix + jobId + "/";
        var blobs = new ArrayList<CheckpointBlob>();
        try {
            var request = ListObjectsV2Request.builder().bucket(bucket).prefix(jobPrefix).build();
            for (S3Object object : client.listObjectsV2Paginator(request).contents()) {
                String id = CheckpointKeys.checkpointIdOf(object.key().substring(jobPrefix.length()));
                if (id == null) continue;
                blobs.add(new CheckpointBlob(jobId, id, uriOf(object.key()), object.size(), object.lastModified()));
            }
        } catch (SdkException e) {
            throw CheckpointStoreException.io("cannot list checkpoints of job " + jobId + " under " + uriOf(jobPrefix), e);
        }
        blobs.sort(Comparator.comparing(CheckpointBlob::storedAt).thenComparing(CheckpointBlob::checkpointId));
        return List.copyOf(blobs);
    }

    @Override
    public int deleteAllFor(String jobId) throws CheckpointStoreException {
        List<CheckpointBlob> blobs = list(jobId);
        for (CheckpointBlob blob : blobs) delete(blob.uri());
        return blobs.size();
    }

    @Override
    public String describe() {
        return "s3://" + bucket + "/" + keyPrefix;
    }

    @Override
    public void close() {
        if (ownsClient) client.close();
    }

    private String keyOf(String jobId, String checkpointId) {
        return keyPrefix + jobId + "/" + CheckpointKeys.blobName(checkpointId);
    }

    private URI uriOf(String key) {
        return URI.create("s3://" + bucket + "/" + key);
    }

    /** The key a URI names, if it is one of this store's blobs (this bucket, this prefix, a job, a blob name). */
    private String keyOf(URI uri) throws CheckpointStoreException {
        if (uri == null || !"s3".equals(uri.getScheme()) || !bucket.equals(uri.getAuthority()) || uri.getRawPath() == null
                || !uri.getRawPath().startsWith("/" + keyPrefix)) {
            throw CheckpointStoreException.invalid("checkpoint URI " + uri + " is not in this store (" + describe() + ")");
        }
        String rest = uri.getRawPath().substring(1 + keyPrefix.length());
        int slash = rest.indexOf('/');
        if (slash < 0 || !CheckpointKeys.ID_PATTERN.matcher(rest.substring(0, slash)).matches()
                || CheckpointKeys.checkpointIdOf(rest.substring(slash + 1)) == null) {
            throw CheckpointStoreException.invalid("checkpoint URI " + uri + " is not of the form " + describe()
                    + "<jobId>/<checkpointId>" + CheckpointKeys.SUFFIX);
        }
        return keyPrefix + rest;
    }

    /** {@code "a/b/"} from {@code "a/b"}, {@code "/a/b/"} or {@code "a/b/"}; {@code ""} for no prefix. */
    private static String normalizePrefix(String prefix) {
        if (prefix == null) return "";
        String trimmed = prefix.replaceAll("^/+|/+$", "");
        if (trimmed.isEmpty()) return "";
        for (String segment : trimmed.split("/", -1)) {
            if (!PREFIX_SEGMENT.matcher(segment).matches() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("invalid S3 key prefix '" + prefix + "': segment '" + segment + "'");
            }
        }
        return trimmed + "/";
    }

    private static String errorCode(S3Exception e) {
        return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
    }
}
