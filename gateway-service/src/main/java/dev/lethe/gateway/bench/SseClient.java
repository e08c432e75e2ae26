package dev.lethe.gateway.bench;

import io.netty.handler.codec.http.HttpHeaderNames;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;
import reactor.core.Disposable;
import reactor.netty.http.client.HttpClient;

/**
 * One client following one job's SSE stream ({@code GET /v1/jobs/{id}/events}). For every token event
 * it records, in microseconds: the delay since {@link KafkaWatch} read the token (what the gateway
 * adds), the delay since the {@link Pacer} wrote it (end to end), and the gap since its previous token
 * event. It checks that the seqs arrive gap-free and without repeats.
 */
final class SseClient {

    /** Shared by all clients; {@link Recorder}s take values from many threads without locking. */
    record Recorders(Recorder added, Recorder endToEnd, Recorder gaps, AtomicLong clientFirst) {}

    private final int job;
    private final TokenTimes times;
    private final Recorders recorders;
    private final StringBuilder pending = new StringBuilder();
    private String event;
    private long nextSeq;
    private long lastArrival;
    private volatile boolean done;
    private volatile boolean failed;
    private volatile boolean exact = true;
    private volatile long tokenEvents;
    private Disposable connection;

    SseClient(int job, TokenTimes times, Recorders recorders) {
        this.job = job;
        this.times = times;
        this.recorders = recorders;
    }

    void connect(HttpClient http, String jobId, String authorization) {
        connection = http.headers(h -> h.set(HttpHeaderNames.AUTHORIZATION, authorization)
                        .set(HttpHeaderNames.ACCEPT, "text/event-stream"))
                .get().uri("/v1/jobs/" + jobId + "/events")
                .responseContent().asString()
                .subscribe(this::onText, error -> failed = true, () -> {
                    if (!done) {
                        failed = true;
                    }
                });
    }

    /** Text as it comes off the socket: split into lines, which may span reads. */
    private void onText(String text) {
        long now = System.nanoTime();
        pending.append(text);
        int end;
        while ((end = pending.indexOf("\n")) >= 0) {
            String line = pending.substring(0, end);
            pending.delete(0, end + 1);
            onLine(line, now);
        }
    }

    private void onLine(String line, long now) {
        if (line.startsWith("event:")) {
            event = line.substring(6).strip();
        } else if (line.startsWith("data:") && "token".equals(event)) {
            onToken(number(line, "\"from_seq\":"), number(line, "\"to_seq\":"), now);
        } else if (line.startsWith("data:") && "done".equals(event)) {
            done = true;
        } else if (line.isEmpty()) {
            event = null;
        }
    }

    private void onToken(long from, long to, long now) {
        if (from != nextSeq) {
            exact = false;
        }
        nextSeq = to + 1;
        tokenEvents++;
        long sent = times.sentAt(job, to);
        long seen = times.seenAt(job, to);
        // One token's timings go in together, so that the reset at the end of the warm-up (under the same lock)
        // never keeps one of them and drops the other.
        synchronized (recorders) {
            if (sent > 0) {
                recorders.endToEnd().recordValue(Math.max(0, (now - sent) / 1000));
            }
            // The plain consumer may read a token after a client got it (both race for the CPU): the gateway then
            // added nothing measurable, counted as 0.
            recorders.added().recordValue(seen > 0 ? Math.max(0, (now - seen) / 1000) : 0);
            if (seen == 0) {
                recorders.clientFirst().incrementAndGet();
            }
        }
        if (lastArrival > 0) {
            recorders.gaps().recordValue((now - lastArrival) / 1000);
        }
        lastArrival = now;
    }

    private static long number(String line, String field) {
        int at = line.indexOf(field);
        if (at < 0) {
            return -1;
        }
        int i = at + field.length();
        long value = 0;
        while (i < line.length() && Character.isDigit(line.charAt(i))) {
            value = value * 10 + (line.charAt(i++) - '0');
        }
        return value;
    }

    boolean done() {
        return done;
    }

    boolean failed() {
        return failed;
    }

    /** Every token from seq 0 to the last, each once, in order. */
    boolean exact(long tokens) {
        return exact && done && nextSeq == tokens;
    }

    long tokenEvents() {
        return tokenEvents;
    }

    void close() {
        if (connection != null) {
            connection.dispose();
        }
    }
}
