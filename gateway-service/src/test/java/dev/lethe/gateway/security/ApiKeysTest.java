package dev.lethe.gateway.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lethe.gateway.GatewayProperties;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class ApiKeysTest {

    private final List<GatewayProperties.Tenant> tenants = List.of(
            GatewayProperties.Tenant.withKeys("acme", "k1", "k2"),
            new GatewayProperties.Tenant("globex", List.of("k3"), null, new GatewayProperties.RateLimit(1, Duration.ofMinutes(2)),
                    null));

    @Test
    void aBearerKeyNamesItsTenant() {
        ApiKeys keys = new ApiKeys(tenants);
        assertThat(keys.tenantOf("Bearer k1")).hasValue("acme");
        assertThat(keys.tenantOf("bearer k2 ")).hasValue("acme");
        assertThat(keys.tenantOf("Bearer k3")).hasValue("globex");
        assertThat(keys.tenantOf("Bearer k")).isEmpty();
        assertThat(keys.tenantOf("Basic k1")).isEmpty();
        assertThat(keys.tenantOf("k1")).isEmpty();
        assertThat(keys.tenantOf(null)).isEmpty();
    }

    @Test
    void oneKeyCannotActAsTwoTenants() {
        assertThatThrownBy(() -> new ApiKeys(List.of(GatewayProperties.Tenant.withKeys("a", "k"),
                GatewayProperties.Tenant.withKeys("b", "k"))))
                .hasMessageContaining("two tenants");
        // Also when one gives the key and the other its digest.
        assertThatThrownBy(() -> new ApiKeys(List.of(GatewayProperties.Tenant.withKeys("a", "k"),
                new GatewayProperties.Tenant("b", null, List.of(hex("k")), null, null))))
                .hasMessageContaining("two tenants");
    }

    @Test
    void hashedKeysAreAcceptedInEitherCaseOfHex() {
        ApiKeys keys = new ApiKeys(List.of(
                new GatewayProperties.Tenant("acme", null, List.of(hex("secret-a")), null, null),
                new GatewayProperties.Tenant("globex", List.of("plain-g"), List.of(hex("secret-g").toUpperCase()), null, null)));
        assertThat(keys.tenantOf("Bearer secret-a")).hasValue("acme");
        assertThat(keys.tenantOf("Bearer secret-g")).hasValue("globex");
        assertThat(keys.tenantOf("Bearer plain-g")).hasValue("globex");
        assertThat(keys.tenantOf("Bearer " + hex("secret-a"))).as("the digest is not itself a key").isEmpty();
        assertThat(keys.contains("secret-a")).isTrue();
        assertThat(keys.contains("secret-b")).isFalse();
    }

    @Test
    void theDigestOfAKnownKeyIsTheOneSha256sumPrints() {
        // printf %s lethe-dev-key | sha256sum
        assertThat(hex("lethe-dev-key")).isEqualTo(HexFormat.of().formatHex(ApiKeys.sha256("lethe-dev-key")));
        assertThat(HexFormat.of().formatHex(ApiKeys.sha256("abc")))
                .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    @Test
    void aDigestThatIsNotHexIsRefusedWithoutEchoingIt() {
        assertThatThrownBy(() -> new GatewayProperties.Tenant("acme", null, List.of("my-secret-key"), null, null))
                .hasMessageContaining("64 hex digits")
                .hasMessageContaining("acme")
                .hasMessageNotContaining("my-secret-key");
        assertThat(GatewayProperties.Tenant.withKeys("acme", "my-secret-key").toString()).doesNotContain("my-secret-key");
    }

    private static String hex(String key) {
        try {
            return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void eachTenantHasItsOwnLimiter() {
        TenantRateLimiters limiters = new TenantRateLimiters(new GatewayProperties.RateLimit(3, Duration.ofHours(1)), tenants);
        assertThat(limiters.forTenant("globex").acquirePermission()).isTrue();
        assertThat(limiters.forTenant("globex").acquirePermission()).as("globex has its own limit of 1").isFalse();
        assertThat(limiters.retryAfterSeconds("globex")).isEqualTo(120);
        for (int i = 0; i < 3; i++) {
            assertThat(limiters.forTenant("acme").acquirePermission()).isTrue();
        }
        assertThat(limiters.forTenant("acme").acquirePermission()).isFalse();
        assertThat(limiters.retryAfterSeconds("acme")).isEqualTo(3600);
    }
}
