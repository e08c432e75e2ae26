package dev.lethe.schemas;

/**
 * One Lethe event: a payload of a Kafka topic, described by a JSON Schema of this module.
 * Every event belongs to one job, and the job id is the record key on every topic, so that a job's
 * request, state, checkpoints and commands land on the same partition number.
 */
public sealed interface Event permits JobRequest, TokenChunk, JobStatus, Control, CheckpointManifest {

    String jobId();

    /** The type of this event: its schema id and schema file. */
    default EventType type() {
        return EventType.of(getClass());
    }
}
