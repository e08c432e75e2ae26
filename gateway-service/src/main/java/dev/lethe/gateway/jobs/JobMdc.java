package dev.lethe.gateway.jobs;

import org.slf4j.MDC;

/**
 * Puts a job id into SLF4J's MDC under {@code jobId} for the log lines written inside a
 * try-with-resources block, so that structured (JSON) logs carry it as a field of its own, as the
 * worker's do. The gateway's code runs on shared event-loop and Kafka threads, so the id is set around
 * each log statement that concerns a job rather than for a whole request.
 */
public final class JobMdc {

    public static final String KEY = "jobId";

    private JobMdc() {
    }

    public static MDC.MDCCloseable of(String jobId) {
        return MDC.putCloseable(KEY, jobId);
    }
}
