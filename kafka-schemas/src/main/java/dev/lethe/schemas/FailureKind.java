package dev.lethe.schemas;

/** Why bytes are not a valid event, coarsely: for metrics and the DLQ's error-class header. */
public enum FailureKind {
    /** No bytes at all. */
    EMPTY,
    /** More bytes than {@link EventCodec#MAX_EVENT_BYTES}. */
    TOO_LARGE,
    /** Bytes that are not UTF-8, or text with an unpaired surrogate (which no UTF-8 can carry). */
    NOT_UTF8,
    /** Not one JSON value, or nested deeper than {@link EventCodec#MAX_NESTING_DEPTH}. */
    MALFORMED_JSON,
    /** No {@code schema} field, or a schema id this version does not know. */
    UNKNOWN_SCHEMA,
    /** A known event, but not of the type the caller asked for. */
    WRONG_EVENT_TYPE,
    /** JSON that breaks its JSON Schema. */
    SCHEMA_VIOLATION,
    /** Schema-valid JSON that breaks a rule the schema cannot express (such as tokenIds matching fromSeq..toSeq). */
    INVALID_VALUE,
    /** A bug in the decoder or its libraries, reported rather than thrown so that no consumer dies of it. */
    INTERNAL_ERROR
}
