package dev.lethe.gateway.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lethe.schemas.JobEvent;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobRecoveryTest {
    private static final Instant T = Instant.parse("2026-03-01T10:00:00Z");

    private static JobEvent event(JobEvent.Type type, int second, String worker, String detail) {
        return new JobEvent(type, T.plusSeconds(second), worker, detail);
    }

    @Test
    void ownersPreemptionsResumesAndCheckpointsComeFromTheHistory() {
        List<JobEvent> history = List.of(
                event(JobEvent.Type.ACCEPTED, 0, "w1", "request lethe.requests-2@7"),
                event(JobEvent.Type.STARTED, 1, "w1", null),
                event(JobEvent.Type.CHECKPOINTED, 2, "w1", "checkpoint=ck-000000024-w1-00ab12 lastSeq=23 bytes=51234 "
                        + "kvBytes=40960 fullKvBytes=40960 serializeMs=1 storeMs=6 store=dir:/var/lethe/my checkpoints"),
                event(JobEvent.Type.PREEMPTED, 3, "w1", "on request, checkpoint=ck-000000040-w1-00cd34 lastSeq=39 bytes=60000 "
                        + "kvBytes=50000 fullKvBytes=70000 serializeMs=2 storeMs=9 store=s3://bucket/prefix"),
                event(JobEvent.Type.RESUMED, 4, "w2", "checkpoint=ck-000000040-w1-00cd34 lastSeq=39 replayed=0 "
                        + "replayDiffering=0 caughtUp=0 tookMs=12"),
                event(JobEvent.Type.RECOMPUTED, 5, "w3", "delivered=80 tookMs=40 because checkpoint not usable: missing"),
                event(JobEvent.Type.COMPLETED, 6, "w3", null));
        JobRecovery recovery = JobRecovery.of(history);
        assertThat(recovery.owners()).containsExactly("w1", "w2", "w3");
        assertThat(recovery.preemptions()).singleElement().satisfies(p -> assertThat(p.worker()).isEqualTo("w1"));
        assertThat(recovery.resumes()).extracting(JobRecovery.Step::kind).containsExactly("RESUMED", "RECOMPUTED");
        assertThat(recovery.checkpoints()).hasSize(2);
        JobRecovery.Checkpoint first = recovery.checkpoints().getFirst();
        assertThat(first.id()).isEqualTo("ck-000000024-w1-00ab12");
        assertThat(first.lastSeq()).isEqualTo(23);
        assertThat(first.bytes()).isEqualTo(51234);
        assertThat(first.store()).isEqualTo("dir:/var/lethe/my checkpoints");
        assertThat(first.storeMs()).isEqualTo(6);
        JobRecovery.Checkpoint second = recovery.checkpoints().get(1);
        assertThat(second.fullKvBytes()).isEqualTo(70000);
        assertThat(second.store()).isEqualTo("s3://bucket/prefix");
        assertThat(recovery.inexact()).isEmpty();
    }
}
