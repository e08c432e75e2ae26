package dev.lethe.worker;

import dev.lethe.cache.policy.Policies;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.scheduler.JobSpec;
import dev.lethe.engine.tokenizer.ChatFormat;
import dev.lethe.engine.tokenizer.ChatMessage;
import dev.lethe.schemas.JobError;
import dev.lethe.schemas.JobRequest;
import dev.lethe.schemas.Sampling;
import java.util.List;
import java.util.Locale;
import java.util.random.RandomGenerator;

/**
 * Turns a schema-valid request into a job the scheduler can run: checks that this worker serves the model,
 * tokenizes the prompt (through the chat template for messages), maps the sampling parameters and the KV policy.
 * Everything that could make the job fail before it starts is found here, on the consumer thread.
 */
final class JobPreparer {
    private final Model model;
    private final String modelName;
    private final PolicySpec defaultPolicy;
    private final RandomGenerator seeds;

    JobPreparer(Model model, String modelName, PolicySpec defaultPolicy, RandomGenerator seeds) {
        this.model = model;
        this.modelName = modelName;
        this.defaultPolicy = defaultPolicy;
        this.seeds = seeds;
        Policies.create(defaultPolicy, model.kvLayout()); // a bad default is a configuration error: fail at start-up
    }

    JobSpec prepare(JobRequest request) throws JobRejectedException {
        return prepare(request, null);
    }

    /**
     * @param chosenSeed the seed a worker chose for this request before (a request without a seed, taken over):
     *                   the job must go on with the same one; null to use the request's, or choose one
     */
    JobSpec prepare(JobRequest request, Long chosenSeed) throws JobRejectedException {
        if (request.model() != null && !request.model().equals(modelName)) {
            throw new JobRejectedException(JobError.MODEL_NOT_FOUND,
                    "this worker serves model '" + modelName + "', not '" + request.model() + "'");
        }
        int[] prompt = tokenize(request);
        int context = model.config().contextLength();
        if (prompt.length >= context) {
            throw new JobRejectedException(JobError.PROMPT_TOO_LONG, "the prompt is " + prompt.length
                    + " tokens long, but the model's context length is " + context);
        }
        return new JobSpec(request.jobId(), prompt, sampling(request.sampling(), chosenSeed), policy(request), request.priority());
    }

    private int[] tokenize(JobRequest request) throws JobRejectedException {
        if (request.prompt() != null) return model.tokenizer().encode(request.prompt(), true, false);
        ChatFormat chat;
        try {
            chat = ChatFormat.require(model.gguf(), model.tokenizer());
        } catch (IllegalArgumentException e) {
            throw new JobRejectedException(JobError.CHAT_NOT_SUPPORTED, "model '" + modelName + "' cannot run a chat request: "
                    + e.getMessage() + " (send a plain prompt instead)");
        }
        List<ChatMessage> messages = request.messages().stream()
                .map(m -> new ChatMessage(m.role().name().toLowerCase(Locale.ROOT), m.content()))
                .toList();
        return chat.render(messages);
    }

    /** A request without a seed gets one here, so its job is reproducible from its sampler state later. */
    private SamplingParams sampling(Sampling s, Long chosenSeed) throws JobRejectedException {
        long seed = s.seed() != null ? s.seed() : chosenSeed != null ? chosenSeed : seeds.nextLong() & ((1L << 53) - 1);
        try {
            return new SamplingParams((float) s.temperature(), s.topK(), (float) s.topP(), (float) s.minP(), seed,
                    s.maxTokens(), s.stop());
        } catch (IllegalArgumentException e) {
            throw new JobRejectedException(JobError.INVALID_SAMPLING, e.getMessage());
        }
    }

    private PolicySpec policy(JobRequest request) throws JobRejectedException {
        if (request.kvPolicy() == null) return defaultPolicy;
        try {
            PolicySpec spec = KvPolicies.toSpec(request.kvPolicy());
            Policies.create(spec, model.kvLayout()); // validates the name and every parameter
            return spec;
        } catch (IllegalArgumentException e) {
            throw new JobRejectedException(JobError.INVALID_KV_POLICY, e.getMessage());
        }
    }
}
