package dev.lethe.gateway.jobs;

import dev.lethe.schemas.JobStatus;
import java.time.Instant;

/**
 * A job as this gateway knows it at one moment.
 *
 * @param tenant    owner; null while only tokens of the job were seen
 * @param model     model name as requested, or null (unknown, or the default)
 * @param createdAt when it was submitted, or null when unknown
 * @param status    the latest status from {@code lethe.jobs}, or null before the first
 */
public record JobSnapshot(String jobId, String tenant, String model, Instant createdAt, JobStatus status) {
}
