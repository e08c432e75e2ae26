package dev.lethe.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lethe.store.CheckpointBlob;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Which blobs a pending deletion takes, and how a retry goes when the store fails part-way. */
class PendingDeletesTest {
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    private static CheckpointBlob blob(String id, int second) {
        return new CheckpointBlob("job", id, URI.create("flaky:/job/" + id + ".lkv"), 1, T0.plusSeconds(second));
    }

    private static List<String> ids(List<CheckpointBlob> blobs) {
        return blobs.stream().map(CheckpointBlob::checkpointId).toList();
    }

    @Test
    void theNamedBlobsGoWithThoseStoredStrictlyBeforeTheNewestOfThemAndNothingStoredLater() {
        List<CheckpointBlob> listed = List.of(blob("leftover", 1), blob("named-old", 2), blob("named", 5),
                blob("same-tick", 5), blob("newer", 6));
        assertEquals(List.of("leftover", "named-old", "named"),
                ids(PendingDeletes.victims(listed, Set.of("named-old", "named"))));
        // A named blob no longer there (deleted meanwhile) decides nothing: the newer one stays.
        assertEquals(List.of(), ids(PendingDeletes.victims(List.of(blob("newer", 6)), Set.of("gone"))));
    }

    @Test
    void aRetryStopsAtTheFirstFailureAndKeepsTheRest() throws Exception {
        var store = new FlakyStore();
        for (String job : List.of("job-1", "job-2")) store.put(job, "ck-1", out -> out.write(1));
        AtomicInteger dropped = new AtomicInteger();
        var pending = new PendingDeletes(5, dropped::incrementAndGet);
        pending.add("job-1", Set.of("ck-1"));
        pending.add("job-2", Set.of("ck-1"));
        pending.add("job-3", Set.of());
        assertEquals(2, pending.size(), "a job with no known blob has nothing to wait for");
        store.down = true;
        assertEquals(0, pending.retry(store));
        assertEquals(2, pending.size());
        store.down = false;
        assertEquals(2, pending.retry(store));
        assertEquals(0, pending.size());
        assertEquals(List.of(), store.ids("job-1"));
        assertEquals(0, dropped.get());
        assertThrows(IllegalArgumentException.class, () -> new PendingDeletes(0, () -> {}));
    }
}
