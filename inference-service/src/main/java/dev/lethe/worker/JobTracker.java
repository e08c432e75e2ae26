package dev.lethe.worker;

import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobError;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * One job's state as {@code lethe.jobs} shows it. Each {@link JobStatus} replaces the previous one on the
 * compacted topic, so each carries the job's whole history. Used from the consumer thread first, then the
 * publisher thread: the methods are synchronized.
 */
final class JobTracker {
    private static final int MAX_MESSAGE = 4096;

    private final String jobId;
    private final String tenant;
    private final String worker;
    private final Clock clock;
    private final List<JobEvent> history = new ArrayList<>();
    private long promptTokens;

    JobTracker(String jobId, String tenant, String worker, Clock clock) {
        this.jobId = jobId;
        this.tenant = tenant;
        this.worker = worker;
        this.clock = clock;
    }

    String jobId() {
        return jobId;
    }

    String worker() {
        return worker;
    }

    /** QUEUED: durably accepted; {@code detail} says where the request is, for a later owner to find it. */
    synchronized JobStatus accepted(String detail) {
        history.add(new JobEvent(JobEvent.Type.ACCEPTED, clock.instant(), worker, detail));
        return status(JobState.QUEUED, -1, 0, null, null);
    }

    synchronized JobStatus started(int promptTokens) {
        this.promptTokens = promptTokens;
        history.add(new JobEvent(JobEvent.Type.STARTED, clock.instant(), worker, null));
        return status(JobState.RUNNING, -1, 0, null, null);
    }

    /** The final state, from the scheduler's outcome. */
    synchronized JobStatus ended(JobOutcome outcome) {
        promptTokens = outcome.promptTokens();
        long lastSeq = outcome.generatedTokens() - 1L;
        return switch (outcome.ending()) {
            case STOP, LENGTH -> {
                history.add(new JobEvent(JobEvent.Type.COMPLETED, clock.instant(), worker, null));
                yield status(JobState.COMPLETED, lastSeq, outcome.generatedTokens(), finishReason(outcome.ending()), null);
            }
            case CANCELLED -> {
                history.add(new JobEvent(JobEvent.Type.CANCELLED, clock.instant(), worker, null));
                yield status(JobState.CANCELLED, lastSeq, outcome.generatedTokens(), FinishReason.CANCELLED, null);
            }
            case FAILED -> {
                String error = clip(outcome.error());
                history.add(new JobEvent(JobEvent.Type.FAILED, clock.instant(), worker, error));
                yield status(JobState.FAILED, lastSeq, outcome.generatedTokens(), FinishReason.ERROR,
                        new JobError("ENGINE_ERROR", error));
            }
        };
    }

    /** FAILED before it was queued: the request is valid but cannot run here. */
    synchronized JobStatus rejected(String detail, String code, String message) {
        history.add(new JobEvent(JobEvent.Type.ACCEPTED, clock.instant(), worker, detail));
        String text = clip(message);
        history.add(new JobEvent(JobEvent.Type.FAILED, clock.instant(), worker, text));
        return status(JobState.FAILED, -1, 0, FinishReason.ERROR, new JobError(code, text));
    }

    /** CANCELLED before it was queued: a cancel command came before the request. */
    synchronized JobStatus cancelledBeforeStart(String detail) {
        history.add(new JobEvent(JobEvent.Type.ACCEPTED, clock.instant(), worker, detail));
        history.add(new JobEvent(JobEvent.Type.CANCELLED, clock.instant(), worker, "cancelled before it started"));
        return status(JobState.CANCELLED, -1, 0, FinishReason.CANCELLED, null);
    }

    /** Error texts as the schema takes them: not empty, at most {@link #MAX_MESSAGE} characters. */
    private static String clip(String message) {
        if (message == null || message.isEmpty()) return "no message";
        if (message.length() <= MAX_MESSAGE) return message;
        int end = MAX_MESSAGE - 3;
        if (Character.isHighSurrogate(message.charAt(end - 1))) end--; // never half a character: it could not be encoded
        return message.substring(0, end) + "...";
    }

    static FinishReason finishReason(JobOutcome.Ending ending) {
        return switch (ending) {
            case STOP -> FinishReason.STOP;
            case LENGTH -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.CANCELLED;
            case FAILED -> FinishReason.ERROR;
        };
    }

    private JobStatus status(JobState state, long lastSeq, long completionTokens, FinishReason finishReason, JobError error) {
        return new JobStatus(jobId, tenant, state, worker, lastSeq, promptTokens, completionTokens, finishReason, error,
                history, clock.instant());
    }
}
