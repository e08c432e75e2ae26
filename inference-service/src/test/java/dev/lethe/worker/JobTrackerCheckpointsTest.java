package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.engine.scheduler.JobOutcome;
import dev.lethe.schemas.CheckpointStatus;
import dev.lethe.schemas.EventCodec;
import dev.lethe.schemas.JobEvent;
import dev.lethe.schemas.JobState;
import dev.lethe.schemas.JobStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a job's state says about its checkpoints: absent, OK, or FAILING since the first failure in a row. */
class JobTrackerCheckpointsTest {

    /** A clock that moves only when told to. */
    private static final class StepClock extends Clock {
        private Instant now = Instant.parse("2026-03-14T09:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }

    private final StepClock clock = new StepClock();
    private final EventCodec codec = new EventCodec();

    private static CheckpointRecord record(String id, long lastSeq) {
        return new CheckpointRecord(id, lastSeq, 1000, 800, 4000, 1, 2, "s3://bucket/p/");
    }

    @Test
    void failuresInARowAreCountedFromTheFirstAndADurableCheckpointClearsThem() {
        JobTracker job = new JobTracker("job-1", "acme", "w-1", clock);
        job.accepted("request lethe.requests-0@0");
        assertNull(job.started(5).checkpoints(), "no checkpoint tried yet");

        JobStatus ok = job.checkpointed(record("ck-1", 15));
        assertEquals(CheckpointStatus.ok(15), ok.checkpoints());

        Instant firstFailure = clock.instant().plusSeconds(1);
        clock.advance(Duration.ofSeconds(1));
        JobStatus failing = job.checkpointFailed("store down: Connection refused");
        clock.advance(Duration.ofSeconds(1));
        failing = job.checkpointFailed("not tried: circuit open");
        assertEquals(JobState.RUNNING, failing.state());
        assertEquals(new CheckpointStatus(CheckpointStatus.State.FAILING, 2, firstFailure, "not tried: circuit open", 15),
                failing.checkpoints());
        assertTrue(job.checkpointsFailing());
        assertEquals(List.of(JobEvent.Type.ACCEPTED, JobEvent.Type.STARTED, JobEvent.Type.CHECKPOINTED),
                failing.history().stream().map(JobEvent::type).toList(), "a failed checkpoint is no history event");
        // The state goes on the wire: the schema takes it, and it reads back the same.
        assertEquals(failing, codec.decode(codec.encode(failing), JobStatus.class).orElseThrow());

        JobStatus recovered = job.checkpointed(record("ck-2", 47));
        assertEquals(CheckpointStatus.ok(47), recovered.checkpoints());
        assertFalse(job.checkpointsFailing());

        job.checkpointFailed("again");
        JobStatus ended = job.ended(new JobOutcome(JobOutcome.Ending.STOP, 5, 60, "", null));
        assertNull(ended.checkpoints(), "a final state says nothing of checkpoints");
    }

    @Test
    void aTakenOverJobCountsFromTheCheckpointItResumedFrom() {
        JobTracker job = new JobTracker("job-2", "acme", "w-2", clock);
        job.checkpointDurable(95);
        assertNull(job.started(5).checkpoints(), "nothing tried by this worker yet");
        assertEquals(95, job.checkpointFailed("store down").checkpoints().lastCheckpointSeq());
        job.checkpointDurable(111); // a preemption's checkpoint, stored
        assertFalse(job.checkpointsFailing());
        assertEquals(CheckpointStatus.ok(111), job.preempted("on request").checkpoints());
    }
}
