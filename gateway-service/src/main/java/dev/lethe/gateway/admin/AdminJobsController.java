package dev.lethe.gateway.admin;

import dev.lethe.gateway.api.ApiProblem;
import dev.lethe.gateway.api.JobViews;
import dev.lethe.gateway.jobs.JobService;
import dev.lethe.gateway.jobs.JobSnapshot;
import dev.lethe.gateway.jobs.JobTrack;
import dev.lethe.gateway.security.ApiKeyFilter;
import java.util.List;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * Administrators' job endpoints: {@code POST /v1/jobs/{id}/preempt} has the job's worker checkpoint it and free its
 * slot (a PREEMPT command on {@code lethe.control}); it resumes from the checkpoint when there is room, on that worker
 * or on the next owner of its partition. Only the tenants of {@code lethe.gateway.admin.tenants} may call it (403 for
 * the others); they may act on any tenant's job.
 */
@RestController
public class AdminJobsController {

    private final JobService jobs;
    private final AdminProperties admin;

    public AdminJobsController(JobService jobs, AdminProperties admin) {
        this.jobs = jobs;
        this.admin = admin;
    }

    @PostMapping("/v1/jobs/{id}/preempt")
    public Mono<ResponseEntity<JobViews.Job>> preempt(@RequestAttribute(ApiKeyFilter.TENANT) String tenant, @PathVariable String id) {
        if (!admin.isAdmin(tenant)) {
            throw new ApiProblem(HttpStatus.FORBIDDEN, "forbidden", "Forbidden",
                    "preempting a job is for administrators; tenant " + tenant + " is not one (lethe.gateway.admin.tenants)",
                    List.of());
        }
        JobTrack track = jobs.findAnyTenant(id).orElseThrow(() -> ApiProblem.jobNotFound(id));
        JobSnapshot snapshot = track.snapshot();
        if (snapshot.status() != null && snapshot.status().state().isFinal()) {
            throw new ApiProblem(HttpStatus.CONFLICT, "job-ended", "Job already ended",
                    "job " + id + " already ended: " + snapshot.status().state(), List.of());
        }
        return jobs.preempt(track, "preempted by an administrator (tenant " + tenant + ")")
                .onErrorMap(error -> ApiProblem.unavailable("the preempt command could not be sent", error))
                .then(Mono.fromSupplier(() -> ResponseEntity.accepted().body(JobViews.Job.of(track.snapshot(), null))));
    }
}
