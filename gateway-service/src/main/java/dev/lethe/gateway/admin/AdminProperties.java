package dev.lethe.gateway.admin;

import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code lethe.gateway.admin.*}.
 *
 * @param tenants the tenants whose API keys may call the administrators' endpoints ({@code /v1/jobs/{id}/preempt});
 *                none by default
 */
@ConfigurationProperties("lethe.gateway.admin")
public record AdminProperties(List<String> tenants) {
    public AdminProperties {
        tenants = tenants == null ? List.of() : List.copyOf(tenants);
    }

    public boolean isAdmin(String tenant) {
        return tenants.contains(tenant);
    }
}
