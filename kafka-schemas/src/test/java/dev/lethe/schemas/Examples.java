package dev.lethe.schemas;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The example events of EVENTS.md, from test resources. */
record Examples(String file, EventType type, byte[] bytes) {

    static final List<Examples> ALL = List.of(
            load("job-request.json", EventType.JOB_REQUEST),
            load("job-request-minimal.json", EventType.JOB_REQUEST),
            load("token-chunk.json", EventType.TOKEN_CHUNK),
            load("job-status.json", EventType.JOB_STATUS),
            load("control.json", EventType.CONTROL),
            load("checkpoint-manifest.json", EventType.CHECKPOINT_MANIFEST));

    static Examples named(String file) {
        return ALL.stream().filter(e -> e.file.equals(file)).findFirst().orElseThrow();
    }

    String text() {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return file;
    }

    private static Examples load(String file, EventType type) {
        try (InputStream in = Examples.class.getClassLoader().getResourceAsStream("examples/" + file)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource examples/" + file);
            }
            return new Examples(file, type, in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
