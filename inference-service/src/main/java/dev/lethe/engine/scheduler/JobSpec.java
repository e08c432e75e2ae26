package dev.lethe.engine.scheduler;

import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.sampler.SamplingParams;
import java.util.Objects;

/**
 * One job as the scheduler sees it: already tokenized and validated, so that running it can only fail for
 * reasons of the engine itself.
 *
 * @param priority higher runs first among queued jobs (0..9 in the request schema); ties keep arrival order
 */
public record JobSpec(String jobId, int[] prompt, SamplingParams sampling, PolicySpec kvPolicy, int priority) {

    public JobSpec {
        Objects.requireNonNull(jobId, "jobId");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampling, "sampling");
        Objects.requireNonNull(kvPolicy, "kvPolicy");
        if (prompt.length == 0) throw new IllegalArgumentException("job " + jobId + ": the prompt has no tokens");
        prompt = prompt.clone();
    }

    @Override
    public int[] prompt() {
        return prompt.clone();
    }
}
