package dev.lethe.worker;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Cancel commands for jobs this worker has not seen (yet): a CANCEL can overtake its request when requests are
 * backed up, since the two travel on different topics. Remembers the most recent ones, so that such a job
 * ends CANCELLED when its request arrives instead of running.
 */
final class EarlyCancels {
    private final Set<String> jobIds;

    EarlyCancels(int capacity) {
        this.jobIds = Collections.synchronizedSet(Collections.newSetFromMap(new LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > capacity;
            }
        }));
    }

    void remember(String jobId) {
        jobIds.add(jobId);
    }

    /** Whether a cancel for this job came before it; forgets it either way. */
    boolean take(String jobId) {
        return jobIds.remove(jobId);
    }
}
