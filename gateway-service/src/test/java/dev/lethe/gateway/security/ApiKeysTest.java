package dev.lethe.gateway.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lethe.gateway.GatewayProperties;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ApiKeysTest {

    private final List<GatewayProperties.Tenant> tenants = List.of(
            new GatewayProperties.Tenant("acme", List.of("k1", "k2"), null),
            new GatewayProperties.Tenant("globex", List.of("k3"), new GatewayProperties.RateLimit(1, Duration.ofMinutes(2))));

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
        assertThatThrownBy(() -> new ApiKeys(List.of(new GatewayProperties.Tenant("a", List.of("k"), null),
                new GatewayProperties.Tenant("b", List.of("k"), null))))
                .hasMessageContaining("two tenants");
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
