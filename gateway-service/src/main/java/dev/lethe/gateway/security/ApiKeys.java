package dev.lethe.gateway.security;

import dev.lethe.gateway.GatewayProperties;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Which tenant an API key acts as. Only SHA-256 digests of the keys are held: the configured digests
 * ({@code lethe.gateway.tenants[].api-key-sha256}) and those of plain development keys
 * ({@code api-keys}), hashed here at start-up. A presented key is hashed and compared with every
 * digest in constant time ({@link MessageDigest#isEqual}), so neither a match nor a near miss shows
 * in the timing, and a leaked configuration does not reveal a usable key.
 */
public final class ApiKeys {

    /** One accepted key, by its digest. */
    private record Entry(byte[] digest, String tenant) {
    }

    private final List<Entry> entries = new ArrayList<>();

    public ApiKeys(List<GatewayProperties.Tenant> tenants) {
        for (GatewayProperties.Tenant tenant : tenants) {
            for (String key : tenant.apiKeys()) {
                add(sha256(key), tenant.name());
            }
            for (String hex : tenant.apiKeySha256()) {
                add(HexFormat.of().parseHex(hex.toLowerCase()), tenant.name());
            }
        }
    }

    private void add(byte[] digest, String tenant) {
        for (Entry entry : entries) {
            if (MessageDigest.isEqual(entry.digest(), digest) && !entry.tenant().equals(tenant)) {
                throw new IllegalArgumentException("an API key is configured for two tenants: "
                        + entry.tenant() + " and " + tenant);
            }
        }
        entries.add(new Entry(digest, tenant));
    }

    /** The tenant of an {@code Authorization} header value ({@code Bearer <key>}), if it names a known key. */
    public Optional<String> tenantOf(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Optional.empty();
        }
        byte[] given = sha256(authorization.substring(7).strip());
        // Every digest is compared, even after a match, so that the time taken does not depend on which one matched.
        String found = null;
        for (Entry entry : entries) {
            if (MessageDigest.isEqual(given, entry.digest())) {
                found = entry.tenant();
            }
        }
        return Optional.ofNullable(found);
    }

    /** Whether {@code key} is accepted (as any tenant). */
    public boolean contains(String key) {
        return tenantOf("Bearer " + key).isPresent();
    }

    /** The SHA-256 digest of a key's UTF-8 bytes, as configured in {@code api-key-sha256} (in hex). */
    public static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
