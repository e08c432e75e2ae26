package dev.lethe.worker;

import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.engine.scheduler.ResumeReport;
import dev.lethe.schemas.CheckpointStatus;
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
 * compacted topic, so each carries the job's whole history (its first {@link #KEEP_FIRST} and most recent
 * events when there would be more than the schema's {@link #MAX_HISTORY}). A worker that takes a job over
 * continues the previous owner's history ({@link #takeOver}). Used from several threads: the methods are
 * synchronized.
 */
final class JobTracker {
    private static final int MAX_MESSAGE = 4096;
    static final int MAX_HISTORY = 256;
    static final int KEEP_FIRST = 16;

    private final String jobId;
    private final String tenant;
    private final String worker;
    private final Clock clock;
    private final List<JobEvent> history = new ArrayList<>();
    private long promptTokens;
    /** Seq of the last token known to be in {@code lethe.tokens}. */
    private long lastSeq = -1;
    private int attempt = 1;
    private boolean started;
    /** How this worker's checkpoints of the job are going; null until it tried one. */
    private CheckpointStatus checkpoints;
    /** lastSeq of the job's newest durable checkpoint, -1 for none. */
    private long lastCheckpointSeq = -1;

    JobTracker(String jobId, String tenant, String worker, Clock clock) {
        this.jobId = jobId;
        this.tenant = tenant;
        this.worker = worker;
        this.clock = clock;
    }

    /**
     * This worker continues a job another worker (or an earlier run of this one) left: its history goes on, and
     * {@code deliveredLastSeq} is the last token the client has.
     */
    static JobTracker takeOver(JobStatus previous, String worker, Clock clock, long deliveredLastSeq) {
        JobTracker tracker = new JobTracker(previous.jobId(), previous.tenant(), worker, clock);
        tracker.history.addAll(previous.history());
        tracker.promptTokens = previous.promptTokens();
        tracker.lastSeq = deliveredLastSeq;
        for (JobEvent event : previous.history()) {
            switch (event.type()) {
                case STARTED -> tracker.started = true;
                case RESUMED, RECOMPUTED -> {
                    tracker.started = true;
                    tracker.attempt++;
                }
                default -> {
                }
            }
        }
        return tracker;
    }

    String jobId() {
        return jobId;
    }

    String tenant() {
        return tenant;
    }

    String worker() {
        return worker;
    }

    /** 1 on the job's first run, one more on each resume: the {@code attempt} of its token chunks. */
    synchronized int attempt() {
        return attempt;
    }

    synchronized long lastSeq() {
        return lastSeq;
    }

    /** The tokens up to {@code seq} are in {@code lethe.tokens}. */
    synchronized void delivered(long seq) {
        lastSeq = Math.max(lastSeq, seq);
    }

    /** A new run of the job begins here: one more attempt if it ran before. */
    synchronized void newRun() {
        if (started) attempt++;
    }

    /** QUEUED: durably accepted; {@code detail} says where the request is, for a later owner to find it. */
    synchronized JobStatus accepted(String detail) {
        add(JobEvent.Type.ACCEPTED, detail);
        return status(JobState.QUEUED, 0, null, null);
    }

    synchronized JobStatus started(int promptTokens) {
        this.promptTokens = promptTokens;
        started = true;
        add(JobEvent.Type.STARTED, null);
        return status(JobState.RUNNING, 0, null, null);
    }

    /**
     * RUNNING again after a preemption or a take-over: RESUMED from a checkpoint, RECOMPUTED without one, or
     * STARTED for a job that had never run. {@code checkpoint} names the checkpoint it was resumed from.
     */
    synchronized JobStatus resumed(int promptTokens, ResumeReport report, String checkpoint, int delivered) {
        this.promptTokens = promptTokens;
        long ms = report.nanos() / 1_000_000;
        if (!started && delivered == 0 && report.fallback() == null && !report.fromCheckpoint()) {
            started = true;
            add(JobEvent.Type.STARTED, null);
            return status(JobState.RUNNING, 0, null, null);
        }
        started = true;
        if (report.fromCheckpoint()) {
            add(JobEvent.Type.RESUMED, "checkpoint=" + checkpoint + " lastSeq=" + report.checkpointLastSeq()
                    + " replayed=" + report.replayed() + " replayDiffering=" + report.replayDiffering()
                    + " caughtUp=" + report.caughtUp() + " tookMs=" + ms);
        } else {
            add(JobEvent.Type.RECOMPUTED, "delivered=" + delivered + " tookMs=" + ms
                    + (report.fallback() == null ? " (no checkpoint)" : " because " + report.fallback()));
        }
        return status(JobState.RUNNING, 0, null, null);
    }

    /** The job continues, but not conditioned on exactly what the client received; {@code why} says why. */
    synchronized void inexact(String why) {
        add(JobEvent.Type.RESUME_INEXACT, why);
    }

    /** A checkpoint is durable in the store and its manifest is on {@code lethe.checkpoints}. */
    synchronized JobStatus checkpointed(CheckpointRecord record) {
        add(JobEvent.Type.CHECKPOINTED, record.detail());
        lastCheckpointSeq = record.lastSeq();
        checkpoints = CheckpointStatus.ok(lastCheckpointSeq);
        return status(JobState.RUNNING, 0, null, null);
    }

    /**
     * A durable checkpoint that the history tells otherwise (a preemption's), or that a take-over found (its
     * manifest): the job's checkpoints are not failing any more, if this worker tried one.
     */
    synchronized void checkpointDurable(long lastSeq) {
        lastCheckpointSeq = Math.max(lastCheckpointSeq, lastSeq);
        if (checkpoints != null) checkpoints = CheckpointStatus.ok(lastCheckpointSeq);
    }

    /**
     * A checkpoint did not become durable; the job goes on. Its status says so ({@code checkpoints} FAILING) until
     * a checkpoint is stored again. No history event: the history keeps what happened to the job itself.
     */
    synchronized JobStatus checkpointFailed(String why) {
        CheckpointStatus before = checkpoints != null ? checkpoints : CheckpointStatus.ok(lastCheckpointSeq);
        checkpoints = before.failed(clock.instant(), clip(why));
        return status(JobState.RUNNING, 0, null, null);
    }

    /** Whether the latest checkpoint attempt failed. */
    synchronized boolean checkpointsFailing() {
        return checkpoints != null && checkpoints.state() == CheckpointStatus.State.FAILING;
    }

    /** Checkpointed (or not: {@code detail} says) and stopped; resumed when there is room, here or elsewhere. */
    synchronized JobStatus preempted(String detail) {
        add(JobEvent.Type.PREEMPTED, detail);
        return status(JobState.PREEMPTED, 0, null, null);
    }

    /** The final state, from the scheduler's outcome. */
    synchronized JobStatus ended(JobOutcome outcome) {
        promptTokens = outcome.promptTokens();
        lastSeq = outcome.generatedTokens() - 1L;
        return switch (outcome.ending()) {
            case STOP, LENGTH -> {
                add(JobEvent.Type.COMPLETED, null);
                yield status(JobState.COMPLETED, outcome.generatedTokens(), finishReason(outcome.ending()), null);
            }
            case CANCELLED -> {
                add(JobEvent.Type.CANCELLED, null);
                yield status(JobState.CANCELLED, outcome.generatedTokens(), FinishReason.CANCELLED, null);
            }
            case FAILED -> {
                String error = clip(outcome.error());
                add(JobEvent.Type.FAILED, error);
                yield status(JobState.FAILED, outcome.generatedTokens(), FinishReason.ERROR, new JobError("ENGINE_ERROR", error));
            }
        };
    }

    /**
     * The final state of a job whose last chunk (with its finish reason) a previous owner wrote, but not its
     * final state: it ended there, and nothing is left to run.
     */
    synchronized JobStatus endedBefore(long lastSeq, FinishReason reason) {
        this.lastSeq = lastSeq;
        String detail = "its last chunk was written by a previous owner, which stopped before writing this state";
        return switch (reason) {
            case STOP, LENGTH -> {
                add(JobEvent.Type.COMPLETED, detail);
                yield status(JobState.COMPLETED, lastSeq + 1, reason, null);
            }
            case CANCELLED -> {
                add(JobEvent.Type.CANCELLED, detail);
                yield status(JobState.CANCELLED, lastSeq + 1, reason, null);
            }
            case ERROR -> {
                add(JobEvent.Type.FAILED, detail);
                yield status(JobState.FAILED, lastSeq + 1, reason, new JobError("ENGINE_ERROR", detail));
            }
        };
    }

    /** A job that was waiting (preempted, no KV memory) and is cancelled there. */
    synchronized JobStatus cancelledWhileWaiting() {
        add(JobEvent.Type.CANCELLED, "cancelled while preempted");
        return status(JobState.CANCELLED, lastSeq + 1, FinishReason.CANCELLED, null);
    }

    /** FAILED before it was queued: the request is valid but cannot run here. */
    synchronized JobStatus rejected(String detail, String code, String message) {
        add(JobEvent.Type.ACCEPTED, detail);
        String text = clip(message);
        add(JobEvent.Type.FAILED, text);
        return status(JobState.FAILED, 0, FinishReason.ERROR, new JobError(code, text));
    }

    /** CANCELLED before it was queued: a cancel command came before the request. */
    synchronized JobStatus cancelledBeforeStart(String detail) {
        add(JobEvent.Type.ACCEPTED, detail);
        add(JobEvent.Type.CANCELLED, "cancelled before it started");
        return status(JobState.CANCELLED, 0, FinishReason.CANCELLED, null);
    }

    /** A job that could not be taken over (its request is gone, or cannot run here). */
    synchronized JobStatus failedTakeOver(String code, String message) {
        String text = clip(message);
        add(JobEvent.Type.FAILED, text);
        return status(JobState.FAILED, lastSeq + 1, FinishReason.ERROR, new JobError(code, text));
    }

    private void add(JobEvent.Type type, String detail) {
        history.add(new JobEvent(type, clock.instant(), worker, detail == null ? null : clip(detail)));
        // Over the schema's limit: drop the oldest event after the first few, which say how the job began.
        if (history.size() > MAX_HISTORY) history.remove(KEEP_FIRST);
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

    /** @param completionTokens 0 while the job is not final (then {@code lastSeq + 1} tokens are in lethe.tokens) */
    private JobStatus status(JobState state, long completionTokens, FinishReason finishReason, JobError error) {
        return new JobStatus(jobId, tenant, state, worker, lastSeq, promptTokens,
                state.isFinal() ? completionTokens : 0, finishReason, error, history, clock.instant(),
                state.isFinal() ? null : checkpoints);
    }
}
