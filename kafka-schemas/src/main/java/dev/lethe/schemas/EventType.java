package dev.lethe.schemas;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** The event types of the public contract: schema id (the {@code schema} field), schema file and record. */
public enum EventType {
    JOB_REQUEST("lethe.job-request/v1", JobRequest.class),
    TOKEN_CHUNK("lethe.token-chunk/v1", TokenChunk.class),
    JOB_STATUS("lethe.job-status/v1", JobStatus.class),
    CONTROL("lethe.control/v1", Control.class),
    CHECKPOINT_MANIFEST("lethe.checkpoint-manifest/v1", CheckpointManifest.class);

    private final String schemaId;
    private final Class<? extends Event> recordType;

    EventType(String schemaId, Class<? extends Event> recordType) {
        this.schemaId = schemaId;
        this.recordType = recordType;
    }

    /** The value of the {@code schema} field, for example {@code lethe.job-request/v1}. */
    public String schemaId() {
        return schemaId;
    }

    public Class<? extends Event> recordType() {
        return recordType;
    }

    /**
     * Class-path resource of the JSON Schema: {@code lethe.job-request/v1} lives in
     * {@code schemas/lethe.job-request.v1.schema.json}.
     */
    public String schemaResource() {
        return "schemas/" + schemaId.replace('/', '.') + ".schema.json";
    }

    public static Optional<EventType> bySchemaId(String schemaId) {
        return Arrays.stream(values()).filter(t -> t.schemaId.equals(schemaId)).findFirst();
    }

    public static EventType of(Class<?> recordType) {
        return Arrays.stream(values())
                .filter(t -> t.recordType == recordType)
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException(recordType.getName() + " is not an event record"));
    }

    public static List<String> schemaIds() {
        return Arrays.stream(values()).map(EventType::schemaId).toList();
    }
}
