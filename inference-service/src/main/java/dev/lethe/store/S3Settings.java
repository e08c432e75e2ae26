package dev.lethe.store;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;

import java.net.URI;
import java.time.Duration;

/**
 * How to reach S3 or an S3-compatible server (MinIO, Ceph, S3Proxy...).
 *
 * @param endpoint        the server, or {@code null} for AWS itself
 * @param region          the signing region; {@code null} means {@code us-east-1} (what most S3-compatible servers expect)
 * @param pathStyle       address buckets as {@code endpoint/bucket} rather than {@code bucket.endpoint}
 *                        (most S3-compatible servers need it)
 * @param accessKeyId     with {@code secretAccessKey}, static credentials; {@code null} for the SDK's default
 *                        chain (environment, system properties, profile, container or instance role)
 * @param secretAccessKey the secret of {@code accessKeyId}
 * @param attemptTimeout  how long one attempt of a call (one part of an upload) may take before the SDK gives it up:
 *                        a server that hangs then fails a checkpoint in bounded time instead of after the sockets'
 *                        own timeouts, several times over
 */
public record S3Settings(URI endpoint, String region, boolean pathStyle, String accessKeyId, String secretAccessKey,
                         Duration attemptTimeout) {

    /** Generous for one part of an upload; a hung server is noticed within it. */
    public static final Duration DEFAULT_ATTEMPT_TIMEOUT = Duration.ofSeconds(20);

    public S3Settings {
        if (attemptTimeout == null || attemptTimeout.isNegative() || attemptTimeout.isZero()) {
            throw new IllegalArgumentException("the S3 attempt timeout must be positive, got " + attemptTimeout);
        }
        if ((accessKeyId == null) != (secretAccessKey == null)) {
            throw new IllegalArgumentException("give both an S3 access key id and its secret, or neither");
        }
        if (endpoint != null && (endpoint.getScheme() == null || endpoint.getHost() == null)) {
            throw new IllegalArgumentException("S3 endpoint '" + endpoint + "' is not an absolute http(s) URL");
        }
    }

    /** AWS S3 in {@code region}, with the default credential chain. */
    public static S3Settings aws(String region) {
        return new S3Settings(null, region, false, null, null, DEFAULT_ATTEMPT_TIMEOUT);
    }

    /** An S3-compatible server at {@code endpoint}, path-style, with static credentials. */
    public static S3Settings compatible(URI endpoint, String accessKeyId, String secretAccessKey) {
        return new S3Settings(endpoint, null, true, accessKeyId, secretAccessKey, DEFAULT_ATTEMPT_TIMEOUT);
    }

    /**
     * A new client (the caller closes it). Against a custom endpoint the SDK computes and checks checksums
     * only where the API requires them: several S3-compatible servers reject the default trailing CRC
     * headers, and checkpoints carry their own SHA-256 and CRC32C anyway.
     */
    public S3Client newClient() {
        S3ClientBuilder builder = S3Client.builder()
                .region(Region.of(region == null ? "us-east-1" : region))
                .forcePathStyle(pathStyle)
                .credentialsProvider(credentials())
                .overrideConfiguration(c -> c.apiCallAttemptTimeout(attemptTimeout));
        if (endpoint != null) {
            builder.endpointOverride(endpoint)
                    .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                    .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        }
        return builder.build();
    }

    private AwsCredentialsProvider credentials() {
        if (accessKeyId == null) return DefaultCredentialsProvider.builder().build();
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKeyId, secretAccessKey));
    }

    /** Never prints the secret. */
    @Override
    public String toString() {
        return "S3Settings[endpoint=" + endpoint + ", region=" + region + ", pathStyle=" + pathStyle
                + ", accessKeyId=" + accessKeyId + ", secretAccessKey=" + (secretAccessKey == null ? null : "***")
                + ", attemptTimeout=" + attemptTimeout + "]";
    }
}
