package dev.lethe.worker;

import dev.lethe.store.CheckpointBlob;
import dev.lethe.store.CheckpointStore;
import dev.lethe.store.CheckpointStoreException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The checkpoint blobs of ended jobs that could not be deleted when the job ended (the store was down), kept to be
 * deleted once the store is back. At most {@code max} jobs wait; past that the oldest is dropped (logged, counted):
 * its blobs stay in the store.
 *
 * <p>What is deleted is what the worker knew of when the job ended, never "every blob of the job": by the time the
 * store is back, the job id may have blobs that someone still needs (a newer checkpoint of a resumed run, written
 * by another owner). A retry deletes the blobs it names, and the job's blobs stored strictly before the newest of
 * those (leftovers the worker did not know of: an older checkpoint whose deletion failed, a write that landed
 * though its client gave up). A blob stored after them is left alone. Thread-safe; the store is called outside
 * the lock.
 */
final class PendingDeletes {
    private static final Logger log = LoggerFactory.getLogger(PendingDeletes.class);

    private final int max;
    private final Runnable onDrop;
    /** Job id to the checkpoint ids to delete, oldest job first. */
    private final LinkedHashMap<String, Set<String>> byJob = new LinkedHashMap<>();

    /** @param onDrop called once per job dropped for the bound (a metric counts it) */
    PendingDeletes(int max, Runnable onDrop) {
        if (max < 1) throw new IllegalArgumentException("the bound on pending deletions must be at least 1, got " + max);
        this.max = max;
        this.onDrop = onDrop;
    }

    /** Remembers that {@code checkpointIds} of {@code jobId} are to be deleted; drops the oldest job past the bound. */
    void add(String jobId, Set<String> checkpointIds) {
        if (checkpointIds.isEmpty()) return;
        Map.Entry<String, Set<String>> dropped = null;
        synchronized (this) {
            Set<String> ids = new HashSet<>(checkpointIds);
            Set<String> before = byJob.remove(jobId);
            if (before != null) ids.addAll(before);
            byJob.put(jobId, Set.copyOf(ids));
            if (byJob.size() > max) {
                dropped = byJob.firstEntry();
                byJob.remove(dropped.getKey());
            }
        }
        if (dropped != null) {
            onDrop.run();
            log.warn("job {}: checkpoints {} will not be deleted: more than {} ended jobs wait for the store to delete "
                    + "their checkpoints (lethe.worker.checkpoints.max-pending-deletes); delete them by hand",
                    dropped.getKey(), dropped.getValue(), max);
        }
    }

    /** The job's blobs were deleted another way (every blob of the job, while nothing else needed them). */
    synchronized void remove(String jobId) {
        byJob.remove(jobId);
    }

    /** How many jobs wait for their blobs to be deleted. */
    synchronized int size() {
        return byJob.size();
    }

    /**
     * Tries each waiting job once, oldest first, and stops at the first store failure (the store is down again: the
     * rest would fail the same way). Returns how many jobs' blobs were deleted.
     */
    int retry(CheckpointStore store) {
        List<Map.Entry<String, Set<String>>> waiting;
        synchronized (this) {
            waiting = List.copyOf(byJob.entrySet());
        }
        int done = 0;
        for (Map.Entry<String, Set<String>> entry : waiting) {
            String jobId = entry.getKey();
            try {
                List<CheckpointBlob> gone = victims(store.list(jobId), entry.getValue());
                for (CheckpointBlob blob : gone) store.delete(blob.uri());
                log.info("job {}: {} checkpoint blob(s) deleted, which could not be when it ended", jobId, gone.size());
            } catch (CheckpointStoreException e) {
                log.info("job {}: checkpoints still not deleted ({}); {} job(s) wait", jobId, e.getMessage(), size());
                return done;
            }
            synchronized (this) {
                byJob.remove(jobId, entry.getValue()); // unless more ids came meanwhile: those go next time
            }
            done++;
        }
        return done;
    }

    /** Of a job's {@code listed} blobs, those to delete: the ones named, and the ones stored strictly before the newest of those. */
    static List<CheckpointBlob> victims(List<CheckpointBlob> listed, Set<String> named) {
        Instant newest = null;
        for (CheckpointBlob blob : listed) {
            if (named.contains(blob.checkpointId()) && (newest == null || blob.storedAt().isAfter(newest))) newest = blob.storedAt();
        }
        List<CheckpointBlob> victims = new ArrayList<>();
        for (CheckpointBlob blob : listed) {
            if (named.contains(blob.checkpointId()) || (newest != null && blob.storedAt().isBefore(newest))) victims.add(blob);
        }
        return victims;
    }
}
