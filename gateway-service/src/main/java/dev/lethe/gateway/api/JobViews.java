package dev.lethe.gateway.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.lethe.gateway.jobs.JobResult;
import dev.lethe.gateway.jobs.JobSnapshot;
import dev.lethe.gateway.jobs.StreamEvent;
import dev.lethe.schemas.CheckpointStatus;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobError;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/** The JSON of the {@code /v1/jobs} API. Absent values are left out. */
public final class JobViews {

    private JobViews() {
    }

    /**
     * A job. {@code state} is QUEUED until a worker reports on it; {@code output} and {@code usage} are
     * there once it ended; {@code recovery} sums its history up: owners, preemptions, resumes, checkpoints;
     * {@code checkpoints} says whether its worker's checkpoints of it are failing (absent until one was tried).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Job(String id, String object, String model, String state, Long created,
                      @JsonProperty("updated_at") Instant updatedAt, String worker,
                      @JsonProperty("last_seq") long lastSeq,
                      @JsonProperty("finish_reason") String finishReason, OpenAi.OpenAiUsage usage, JobError error,
                      Output output, List<JobEvent> history, JobRecovery recovery, Checkpoints checkpoints) {

        public static Job of(JobSnapshot job, JobResult result) {
            JobStatus status = job.status();
            JobState state = status == null ? JobState.QUEUED : status.state();
            Output output = null;
            OpenAi.OpenAiUsage usage = null;
            if (result != null) {
                output = new Output(result.text(), result.lost());
                if (result.finished() != null) {
                    usage = OpenAi.OpenAiUsage.of(result.finished().usage());
                }
            }
            return new Job(job.jobId(), "job", job.model(), state.name(),
                    job.createdAt() == null ? null : job.createdAt().getEpochSecond(),
                    status == null ? null : status.updatedAt(),
                    status == null ? null : status.worker(),
                    status == null ? -1 : status.lastSeq(),
                    status == null || status.finishReason() == null ? null : name(status.finishReason()),
                    usage,
                    status == null ? null : status.error(),
                    output,
                    status == null ? List.of() : status.history(),
                    JobRecovery.of(status == null ? List.of() : status.history()),
                    status == null ? null : Checkpoints.of(status.checkpoints()));
        }
    }

    /**
     * How a running job's checkpoints are going ({@code checkpoints} of {@code lethe.job-status/v1}): {@code OK},
     * or {@code FAILING} since {@code failing_since}, {@code failures} attempts in a row, the latest for
     * {@code last_error}. {@code last_checkpoint_seq} is the last token the newest durable checkpoint holds.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Checkpoints(String state, long failures, @JsonProperty("failing_since") Instant failingSince,
                              @JsonProperty("last_error") String lastError,
                              @JsonProperty("last_checkpoint_seq") long lastCheckpointSeq) {
        static Checkpoints of(CheckpointStatus status) {
            return status == null ? null : new Checkpoints(status.state().name(), status.failures(),
                    status.failingSince(), status.lastError(), status.lastCheckpointSeq());
        }
    }

    /** @param incomplete why the text is incomplete, or absent */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Output(String text, String incomplete) {
    }

    /** Data of an SSE {@code token} event; its SSE id is {@code to_seq}. {@code text} is absent for part of a chunk. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Tokens(@JsonProperty("from_seq") long fromSeq, @JsonProperty("to_seq") long toSeq,
                         @JsonProperty("token_ids") List<Integer> tokenIds, String text) {
        static Tokens of(StreamEvent.Tokens tokens) {
            return new Tokens(tokens.fromSeq(), tokens.toSeq(), tokens.tokenIds(), tokens.text());
        }
    }

    /** Data of an SSE {@code status} event. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Status(String state, String worker, @JsonProperty("last_seq") long lastSeq,
                         @JsonProperty("updated_at") Instant updatedAt) {
        static Status of(JobStatus status) {
            return new Status(status.state().name(), status.worker(), status.lastSeq(), status.updatedAt());
        }
    }

    /** Data of the SSE {@code done} event, the last one. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Done(@JsonProperty("finish_reason") String finishReason, @JsonProperty("last_seq") long lastSeq,
                       OpenAi.OpenAiUsage usage, JobError error) {
        static Done of(StreamEvent.Finished finished) {
            return new Done(name(finished.reason()), finished.lastSeq(), OpenAi.OpenAiUsage.of(finished.usage()),
                    finished.error());
        }
    }

    /** Data of the SSE {@code error} event, which ends a stream that cannot go on. */
    public record StreamLost(String detail) {
    }

    static String name(FinishReason reason) {
        return reason.name().toLowerCase(Locale.ROOT);
    }
}
