package dev.lethe.gateway.api;

import dev.lethe.gateway.GatewayProperties;
import java.time.Instant;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** OpenAI's {@code GET /v1/models}: the configured model names. */
@RestController
public class ModelsController {

    private final OpenAi.ModelList models;

    public ModelsController(GatewayProperties properties) {
        long created = Instant.now().getEpochSecond();
        this.models = new OpenAi.ModelList("list", properties.models().stream()
                .map(name -> new OpenAi.Model(name, "model", created, "lethe"))
                .toList());
    }

    @GetMapping("/v1/models")
    public OpenAi.ModelList list() {
        return models;
    }
}
