package dev.lethe.gateway.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.lethe.schemas.JobEvent;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a job moved, read from its history ({@code lethe.jobs}): the workers that ran it, its preemptions, its
 * resumes (from a checkpoint, or recomputed) and its checkpoints with their size, store and durations. The workers
 * write checkpoint details as {@code key=value} pairs with the store last, which is what is picked out here.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobRecovery(List<String> owners, List<Step> preemptions, List<Step> resumes, List<Checkpoint> checkpoints,
                          List<Step> inexact) {

    private static final Pattern PAIR = Pattern.compile("(\\w+)=(\\S+)");

    /** A preemption or a resume: when, where, and what the worker said. */
    public record Step(Instant at, String worker, String kind, String detail) {
    }

    /** A checkpoint made durable. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Checkpoint(Instant at, String worker, String id, @JsonProperty("last_seq") Long lastSeq, Long bytes,
                             @JsonProperty("kv_bytes") Long kvBytes, @JsonProperty("full_kv_bytes") Long fullKvBytes,
                             String store, @JsonProperty("serialize_ms") Long serializeMs,
                             @JsonProperty("store_ms") Long storeMs) {
    }

    public static JobRecovery of(List<JobEvent> history) {
        LinkedHashSet<String> owners = new LinkedHashSet<>();
        List<Step> preemptions = new ArrayList<>();
        List<Step> resumes = new ArrayList<>();
        List<Checkpoint> checkpoints = new ArrayList<>();
        List<Step> inexact = new ArrayList<>();
        for (JobEvent e : history) {
            switch (e.type()) {
                case STARTED, RESUMED, RECOMPUTED -> {
                    if (e.worker() != null) owners.add(e.worker());
                }
                default -> {
                }
            }
            switch (e.type()) {
                case PREEMPTED -> preemptions.add(step(e));
                case RESUMED, RECOMPUTED -> resumes.add(step(e));
                case RESUME_INEXACT -> inexact.add(step(e));
                default -> {
                }
            }
            if ((e.type() == JobEvent.Type.CHECKPOINTED || e.type() == JobEvent.Type.PREEMPTED) && e.detail() != null
                    && e.detail().contains("checkpoint=")) {
                checkpoints.add(checkpoint(e));
            }
        }
        return new JobRecovery(List.copyOf(owners), preemptions, resumes, checkpoints, inexact);
    }

    private static Step step(JobEvent e) {
        return new Step(e.at(), e.worker(), e.type().name(), e.detail());
    }

    private static Checkpoint checkpoint(JobEvent e) {
        String detail = e.detail();
        int storeAt = detail.indexOf(" store=");
        String store = storeAt < 0 ? null : detail.substring(storeAt + " store=".length());
        Map<String, String> values = new HashMap<>();
        Matcher m = PAIR.matcher(storeAt < 0 ? detail : detail.substring(0, storeAt));
        while (m.find()) values.put(m.group(1), m.group(2));
        return new Checkpoint(e.at(), e.worker(), values.get("checkpoint"), number(values.get("lastSeq")),
                number(values.get("bytes")), number(values.get("kvBytes")), number(values.get("fullKvBytes")), store,
                number(values.get("serializeMs")), number(values.get("storeMs")));
    }

    private static Long number(String value) {
        if (value == null) return null;
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
