package dev.lethe.gateway.jobs;

import dev.lethe.schemas.FinishReason;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this gateway knows of one job: who owns it, its latest status, its recent tokens and how it
 * ended, plus the subscribers to notify when any of that changes. Fed by the Kafka consumers (through
 * {@link JobHub}); read by subscribers through {@link #next}.
 */
public final class JobTrack {

    private final String jobId;
    private final TokenLog log;
    private final Set<JobSubscription> subscribers = ConcurrentHashMap.newKeySet();

    private String tenant;
    private String model;
    private Instant createdAt;
    private JobStatus status;
    /** The chunk that carried the finish reason, once seen live or read back. */
    private TokenChunk finish;
    /** Submitted through this gateway: its token consumer was reading before the job's first token was written. */
    private boolean submittedHere;

    JobTrack(String jobId, int maxChunks) {
        this.jobId = jobId;
        this.log = new TokenLog(maxChunks);
    }

    public String jobId() {
        return jobId;
    }

    /** What a caller may see of the job now. */
    public synchronized JobSnapshot snapshot() {
        return new JobSnapshot(jobId, tenant, model, createdAt, status);
    }

    synchronized String tenant() {
        return tenant;
    }

    synchronized void submitted(String tenant, String model, Instant createdAt) {
        this.tenant = tenant;
        this.model = model;
        this.createdAt = createdAt;
        this.submittedHere = true;
    }

    /** @return whether anything a subscriber could see changed */
    synchronized boolean onStatus(JobStatus newStatus) {
        if (status != null && newStatus.updatedAt().isBefore(status.updatedAt())) {
            return false; // an older state redelivered after a newer one
        }
        status = newStatus;
        if (tenant == null) {
            tenant = newStatus.tenant();
        }
        if (createdAt == null && !newStatus.history().isEmpty()) {
            createdAt = newStatus.history().getFirst().at();
        }
        return true;
    }

    /** @return whether anything a subscriber could see changed */
    synchronized boolean onChunk(TokenChunk chunk) {
        boolean changed = learnFinish(chunk);
        return log.append(chunk) || changed;
    }

    /** Remembers how the job ended, from a chunk seen live or read back from Kafka. */
    synchronized boolean learnFinish(TokenChunk chunk) {
        if (chunk.finishReason() == null || finish != null) {
            return false;
        }
        finish = chunk;
        return true;
    }

    /** When to start reading the job's tokens back from Kafka: its creation, if known. */
    synchronized Instant createdAt() {
        return createdAt;
    }

    /**
     * What a subscriber that has seen every token up to {@code cursor} should do next.
     *
     * @param usageWaitOver whether the subscriber already waited for a final status after the job's
     *                      last token, so that usage may be reported without it
     * @param liveWaitOver  whether the subscriber already waited for tokens a status says exist but the live
     *                      token consumer has not delivered yet
     */
    synchronized Step next(long cursor, boolean usageWaitOver, boolean liveWaitOver) {
        if (log.covers(cursor)) {
            return new Step.Chunk(log.chunkAfter(cursor));
        }
        long known = Math.max(log.lastSeq(), status == null ? -1 : status.lastSeq());
        if (finish != null) {
            known = Math.max(known, finish.toSeq());
        }
        if (cursor < known && (log.isEmpty() || log.firstSeq() > cursor + 1)) {
            if (log.isEmpty() && submittedHere && !liveWaitOver) {
                // A status (read by another consumer) overtook the job's first chunks, which are on their way
                // to this gateway's token consumer: wait for them before reading Kafka back.
                return new Step.Wait(Step.Wait.For.LIVE_TOKENS);
            }
            // The next tokens are not here: they came before this gateway saw the job, or were dropped.
            return new Step.Gap(log.isEmpty() ? known : log.firstSeq() - 1);
        }
        boolean statusFinal = status != null && status.state().isFinal();
        if (finish != null && cursor >= finish.toSeq()) {
            if (!statusFinal && !usageWaitOver) {
                return new Step.Wait(Step.Wait.For.FINAL_STATUS);
            }
            return finished(finish.finishReason(), finish.toSeq());
        }
        if (statusFinal && cursor >= status.lastSeq()) {
            return finished(status.finishReason() != null ? status.finishReason() : reasonOf(status.state()),
                    status.lastSeq());
        }
        return new Step.Wait(Step.Wait.For.CHANGE);
    }

    private Step.Finish finished(FinishReason reason, long lastSeq) {
        boolean statusFinal = status != null && status.state().isFinal();
        long prompt = status == null ? 0 : status.promptTokens();
        long completion = statusFinal ? status.completionTokens() : lastSeq + 1;
        return new Step.Finish(new StreamEvent.Finished(reason, lastSeq, new Usage(prompt, completion),
                status == null ? null : status.error()));
    }

    private static FinishReason reasonOf(JobState state) {
        return switch (state) {
            case CANCELLED -> FinishReason.CANCELLED;
            case FAILED -> FinishReason.ERROR;
            default -> FinishReason.STOP;
        };
    }

    /** The latest status, or null before the first one arrived. */
    synchronized JobStatus status() {
        return status;
    }

    void subscribe(JobSubscription subscription) {
        subscribers.add(subscription);
    }

    void unsubscribe(JobSubscription subscription) {
        subscribers.remove(subscription);
    }

    int subscriberCount() {
        return subscribers.size();
    }

    synchronized int loggedChunks() {
        return log.size();
    }

    /** Wakes every subscriber; called outside this track's lock, after a change. */
    void signal() {
        for (JobSubscription subscription : subscribers) {
            subscription.drain();
        }
    }

    /** One decision of {@link #next}. */
    sealed interface Step {
        /** Emit (the part after the cursor of) this chunk. */
        record Chunk(TokenChunk chunk) implements Step {
        }

        /** Tokens after the cursor up to {@code untilSeq} must be read back from Kafka. */
        record Gap(long untilSeq) implements Step {
        }

        record Finish(StreamEvent.Finished event) implements Step {
        }

        /** Nothing to do until the next change, or until a bounded wait for what {@code waitingFor} names ends. */
        record Wait(For waitingFor) implements Step {
            enum For {
                /** Any change: new tokens, a new status. */
                CHANGE,
                /** Only the final status is missing after the job's last token (for its usage). */
                FINAL_STATUS,
                /** Tokens a status announced, not yet delivered by the live consumer. */
                LIVE_TOKENS
            }
        }
    }
}
