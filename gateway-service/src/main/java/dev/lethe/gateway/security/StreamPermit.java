package dev.lethe.gateway.security;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import reactor.core.publisher.Flux;

/**
 * One stream's hold on one of its tenant's stream slots ({@link StreamLimits}). Several parties may give
 * it back (the stream as it ends, the controller when it answers with a problem instead, the web filter
 * when the exchange ends), whichever comes first; only the first counts, so a slot is never given back twice.
 *
 * <p>It must be back before the client can see its response end: a client that reads the end of one stream
 * (or a 4xx problem) and at once opens the next must not be refused with 429 for a stream it no longer holds.
 */
public final class StreamPermit {

    private final AtomicInteger openOfTenant;
    private final AtomicBoolean held = new AtomicBoolean(true);

    StreamPermit(AtomicInteger openOfTenant) {
        this.openOfTenant = openOfTenant;
    }

    /** Gives the slot back; calls after the first do nothing. */
    public void release() {
        if (held.compareAndSet(true, false)) {
            openOfTenant.decrementAndGet();
        }
    }

    /**
     * {@code body}, giving the permit back as it ends, however it ends (completes, fails, or the client
     * leaves and the server cancels it): before the end reaches the server, which only then finishes the
     * response.
     */
    public <T> Flux<T> heldBy(Flux<T> body) {
        return body.doOnTerminate(this::release).doOnCancel(this::release);
    }
}
