package dev.lethe.schemas;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Why a job stopped generating. */
public enum FinishReason {
    /** An end-of-sequence token or a stop sequence. */
    @JsonProperty("stop") STOP,
    /** maxTokens reached. */
    @JsonProperty("length") LENGTH,
    /** A CANCEL command. */
    @JsonProperty("cancelled") CANCELLED,
    /** The job failed. */
    @JsonProperty("error") ERROR
}
