package dev.lethe.schemas;

import java.time.Instant;
import java.util.Objects;

/**
 * How a running job's checkpoints are going on the worker that runs it: the optional {@code checkpoints} of
 * {@code lethe.job-status/v1}. A job keeps decoding while its checkpoints fail; what it risks is the work since
 * {@code lastCheckpointSeq}, which a crash would make the next owner recompute.
 *
 * @param failures          checkpoint attempts in a row that did not become durable; 0 when {@code OK}
 * @param failingSince      when the first of those attempts failed; null when {@code OK}
 * @param lastError         why the latest attempt failed; null when {@code OK}
 * @param lastCheckpointSeq {@code lastSeq} of the job's newest durable checkpoint, -1 when it has none
 */
public record CheckpointStatus(State state, long failures, Instant failingSince, String lastError,
                               long lastCheckpointSeq) {

    public enum State {
        /** The latest checkpoint attempt is durable. */
        OK,
        /** The latest attempts failed (the store is failing, or its circuit breaker is open). */
        FAILING
    }

    public CheckpointStatus {
        Objects.requireNonNull(state, "state");
        if (failures < 0) throw new IllegalArgumentException("failures must not be negative, got " + failures);
        if (state == State.FAILING && (failures == 0 || failingSince == null || lastError == null)) {
            throw new IllegalArgumentException("a FAILING checkpoint status needs failures > 0, failingSince and lastError");
        }
        if (state == State.OK && (failures != 0 || failingSince != null || lastError != null)) {
            throw new IllegalArgumentException("an OK checkpoint status has no failures, failingSince or lastError");
        }
    }

    /** Checkpoints are durable; the newest holds the tokens up to {@code lastCheckpointSeq}. */
    public static CheckpointStatus ok(long lastCheckpointSeq) {
        return new CheckpointStatus(State.OK, 0, null, null, lastCheckpointSeq);
    }

    /** One more attempt failed at {@code at}, for the reason {@code error}. */
    public CheckpointStatus failed(Instant at, String error) {
        return new CheckpointStatus(State.FAILING, failures + 1, failingSince == null ? at : failingSince, error,
                lastCheckpointSeq);
    }
}
