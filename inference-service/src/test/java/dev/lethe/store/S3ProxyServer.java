package dev.lethe.store;

import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.Constants;

import java.net.URI;
import java.nio.file.Path;
import java.util.Properties;

/**
 * A real S3-compatible server in this JVM: S3Proxy over its filesystem blob store in {@code directory},
 * on 127.0.0.1, checking AWS signatures against fixed test credentials. Closing it stops the server; a new one
 * over the same directory and port is the same server back (an outage and its recovery).
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String ACCESS_KEY = "lethe-test-access";
    public static final String SECRET_KEY = "lethe-test-secret";

    private final BlobStore blobStore;
    private final S3Proxy proxy;

    /** On a free port. */
    public S3ProxyServer(Path directory) throws Exception {
        this(directory, 0);
    }

    /** On {@code port}, 0 for a free one. */
    public S3ProxyServer(Path directory, int port) throws Exception {
        var properties = new Properties();
        properties.setProperty("jclouds.filesystem.basedir", directory.toAbsolutePath().toString());
        properties.setProperty(Constants.PROPERTY_IDENTITY, ACCESS_KEY);
        properties.setProperty(Constants.PROPERTY_CREDENTIAL, SECRET_KEY);
        blobStore = BlobStores.create("filesystem", properties);
        proxy = S3Proxy.builder()
                .blobStore(blobStore)
                .endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .stopTimeout(0)
                .build();
        proxy.start();
        while (!"STARTED".equals(proxy.getState())) Thread.sleep(10);
    }

    public int port() {
        return proxy.getPort();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + proxy.getPort());
    }

    public S3Settings settings() {
        return S3Settings.compatible(endpoint(), ACCESS_KEY, SECRET_KEY);
    }

    @Override
    public void close() throws Exception {
        proxy.stop();
        blobStore.close();
    }
}
