package dev.lethe.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class GatewayPropertiesTest {

    @Test
    void defaultsServeTheDevTenantAndOneModel() {
        GatewayProperties defaults = GatewayProperties.defaults();
        assertThat(defaults.tenants()).containsExactly(GatewayProperties.Tenant.withKeys("dev", "lethe-dev-key"));
        assertThat(defaults.defaultModel()).isEqualTo("lethe-trace");
        assertThat(defaults.instanceId()).isNotBlank().isNotEqualTo(GatewayProperties.defaults().instanceId());
        assertThat(defaults.streams().heartbeat()).hasSeconds(10);
    }

    @Test
    void aTenantNameMustFitTheEventSchema() {
        assertThatThrownBy(() -> GatewayProperties.Tenant.withKeys("acme corp", "k"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\"acme corp\"");
        assertThatThrownBy(() -> new GatewayProperties.RateLimit(0, java.time.Duration.ofSeconds(1)))
                .hasMessageContaining("limit-for-period");
    }
}
