package dev.lethe.gateway.security;

import dev.lethe.gateway.GatewayProperties;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Which tenant an API key acts as ({@code lethe.gateway.tenants[].api-keys}). */
public final class ApiKeys {

    private final Map<String, String> tenantByKey = new HashMap<>();

    public ApiKeys(List<GatewayProperties.Tenant> tenants) {
        for (GatewayProperties.Tenant tenant : tenants) {
            for (String key : tenant.apiKeys()) {
                String previous = tenantByKey.put(key, tenant.name());
                if (previous != null && !previous.equals(tenant.name())) {
                    throw new IllegalArgumentException("an API key is configured for two tenants: "
                            + previous + " and " + tenant.name());
                }
            }
        }
    }

    /** The tenant of an {@code Authorization} header value ({@code Bearer <key>}), if it names a known key. */
    public Optional<String> tenantOf(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Optional.empty();
        }
        byte[] given = authorization.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        // Compare against every key in constant time, so that timing does not reveal a key's prefix.
        String found = null;
        for (Map.Entry<String, String> entry : tenantByKey.entrySet()) {
            if (MessageDigest.isEqual(given, entry.getKey().getBytes(StandardCharsets.UTF_8))) {
                found = entry.getValue();
            }
        }
        return Optional.ofNullable(found);
    }

    public boolean contains(String key) {
        return tenantByKey.containsKey(key);
    }
}
