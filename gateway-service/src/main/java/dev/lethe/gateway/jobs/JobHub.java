package dev.lethe.gateway.jobs;

import dev.lethe.gateway.GatewayProperties;
import dev.lethe.schemas.JobStatus;
import dev.lethe.schemas.TokenChunk;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Every job this gateway knows, fed by its consumers of {@code lethe.tokens} and {@code lethe.jobs},
 * and the fan-out of each job's stream to any number of subscribers. Keeps at most
 * {@code maxJobs} jobs, dropping the least recently updated; a dropped job's subscribers keep going
 * (they hold its track), and a later event about it starts a new track.
 */
public final class JobHub {

    private final TokenArchive archive;
    private final GatewayProperties.Streams settings;
    private final Scheduler timers;
    private final Map<String, JobTrack> jobs;

    public JobHub(TokenArchive archive, GatewayProperties.Streams settings) {
        this(archive, settings, Schedulers.parallel());
    }

    /** @param timers where subscribers time their waits for one consumer to catch up with the other (tests: virtual time) */
    JobHub(TokenArchive archive, GatewayProperties.Streams settings, Scheduler timers) {
        this.archive = archive;
        this.settings = settings;
        this.timers = timers;
        int maxJobs = settings.maxJobs();
        // Access order false: a job moves to the back when it is updated (re-put), not when it is read.
        this.jobs = new LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, JobTrack> eldest) {
                return size() > maxJobs;
            }
        };
    }

    /** A job submitted through this gateway: known (and visible to its tenant) before any worker saw it. */
    public JobTrack submitted(String jobId, String tenant, String model, Instant createdAt) {
        JobTrack track = touch(jobId);
        track.submitted(tenant, model, createdAt);
        return track;
    }

    /** Forgets a job whose request could not be sent. */
    public void forget(String jobId) {
        synchronized (jobs) {
            jobs.remove(jobId);
        }
    }

    public void onTokens(TokenChunk chunk) {
        JobTrack track = touch(chunk.jobId());
        if (track.onChunk(chunk)) {
            track.signal();
        }
    }

    public void onStatus(JobStatus status) {
        JobTrack track = touch(status.jobId());
        if (track.onStatus(status)) {
            track.signal();
        }
    }

    /** A tombstone on {@code lethe.jobs}: the job was deleted. */
    public void onDeleted(String jobId) {
        forget(jobId);
    }

    /**
     * The job, if it exists and belongs to {@code tenant}. Another tenant's job reads as absent, so that
     * job ids cannot be probed; so does a job known only from its tokens, whose owner is not known yet.
     */
    public Optional<JobTrack> find(String jobId, String tenant) {
        JobTrack track;
        synchronized (jobs) {
            track = jobs.get(jobId);
        }
        return track != null && tenant.equals(track.tenant()) ? Optional.of(track) : Optional.empty();
    }

    /** The job whatever its tenant: for administrators only. */
    public Optional<JobTrack> findAnyTenant(String jobId) {
        synchronized (jobs) {
            return Optional.ofNullable(jobs.get(jobId));
        }
    }

    /**
     * The job's events after token {@code afterSeq} (-1 for all): the current status, tokens in seq
     * order as they come, then one {@link StreamEvent.Finished} or {@link StreamEvent.Lost}.
     * Cold: each subscriber gets its own cursor.
     */
    public Flux<StreamEvent> events(JobTrack track, long afterSeq) {
        if (afterSeq < -1) {
            throw new IllegalArgumentException("afterSeq must be -1 or more, not " + afterSeq);
        }
        return Flux.create((FluxSink<StreamEvent> sink) -> {
            JobSubscription subscription = new JobSubscription(track, archive, sink, afterSeq, settings.usageWait(),
                    timers);
            track.subscribe(subscription);
            sink.onRequest(n -> subscription.drain());
            sink.onDispose(() -> {
                track.unsubscribe(subscription);
                subscription.dispose();
            });
        });
    }

    public int size() {
        synchronized (jobs) {
            return jobs.size();
        }
    }

    private JobTrack touch(String jobId) {
        synchronized (jobs) {
            JobTrack track = jobs.remove(jobId);
            if (track == null) {
                track = new JobTrack(jobId, settings.maxChunksPerJob());
            }
            jobs.put(jobId, track);
            return track;
        }
    }
}
