package dev.lethe.cli;

import dev.lethe.cache.KvCacheStats;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.generate.FinishReason;
import dev.lethe.engine.generate.Generation;
import dev.lethe.engine.generate.TokenListener;
import dev.lethe.engine.gpu.GpuBackend;
import dev.lethe.engine.gpu.GpuUnavailableException;
import dev.lethe.engine.model.Decoder;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.sampler.Sampler;
import dev.lethe.engine.sampler.SamplingParams;
import dev.lethe.engine.tokenizer.ChatFormat;
import dev.lethe.engine.tokenizer.ChatMessage;
import dev.lethe.engine.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Set;

/** {@code lethe generate}: streams a completion of a prompt to stdout, and its speed to stderr. */
final class GenerateCommand {
    static final String USAGE = """
            usage: lethe generate [--model FILE] --prompt TEXT [--max-tokens N] [--temperature T]
                                  [--top-p P] [--top-k K] [--min-p P] [--seed S] [--stop TEXT]...
                                  [--chat [--system TEXT]] [--kv-policy NAME [policy parameters]]
                                  [--device cpu|cuda]
              --model FILE      GGUF model (default: $LETHE_MODEL, else models/lethe-trace.gguf)
              --prompt TEXT     the prompt (with --chat: the user's message)
              --max-tokens N    most tokens to generate (default 256)
              --temperature T   0 = greedy (default 0.8)
              --top-p P         nucleus sampling (default 0.95; 1 = off)
              --top-k K         keep the K likeliest tokens (default 0 = off)
              --min-p P         drop tokens below P x the likeliest one's probability (default 0 = off)
              --seed S          random seed (default: from the clock)
              --stop TEXT       stop when the text appears (repeatable; the stop text is not printed)
              --chat            format the prompt with the model's chat template
              --system TEXT     system message for --chat
              --device D        cpu (default) or cuda (GPU 0, through JCuda; needs kernels built with nvcc)
              --kv-policy NAME  KV-cache eviction: lethe (default), full, streamingllm, h2o, tova, snapkv,
                                pyramidkv, rkv; the mean retained KV fraction is printed at the end
            policy parameters (each policy takes those that apply to it; an inapplicable one is an error):
              lethe:        --sparse-ratio T (400) --recent-ratio R (0.3) --delta N (256) --gamma G (0.95)
                            --sinks N (4) --keep-prompt 1 (keep the whole prompt) --segments D (16)
                            --token-cap N (0 = none)
              fixed budget: --budget N (tokens per layer) or --budget-ratio F (of the full length)
                            --sinks --window --recent-ratio --kernel --interval --beta (pyramidkv) --lambda (rkv)
            """;

    /** Command-line names of policy parameters; each is passed to the policy under the same name. */
    private static final Set<String> POLICY_PARAMETERS = Set.of("sparse-ratio", "recent-ratio", "delta", "gamma",
            "sinks", "keep-prompt", "segments", "token-cap", "budget", "budget-ratio", "window", "kernel", "interval", "beta", "lambda");

    private GenerateCommand() {}

    static int run(String[] args, PrintStream out, PrintStream err) {
        Set<String> valued = new java.util.HashSet<>(POLICY_PARAMETERS);
        valued.addAll(Set.of("model", "prompt", "max-tokens", "temperature", "top-p", "top-k", "min-p", "seed", "stop",
                "system", "kv-policy", "device"));
        Options o = Options.parse(args, 1, valued, Set.of("chat"));
        Map<String, String> policyParameters = new LinkedHashMap<>();
        for (String name : POLICY_PARAMETERS) {
            if (o.has(name)) policyParameters.put(name, o.get(name, null));
        }
        PolicySpec policy = PolicySpec.of(o.get("kv-policy", "lethe"), policyParameters);
        if (!o.has("prompt")) throw new UsageException("--prompt is required\n" + USAGE);
        String device = o.get("device", "cpu");
        if (!device.equals("cpu") && !device.equals("cuda")) {
            throw new UsageException("--device must be cpu or cuda, got '" + device + "'");
        }
        SamplingParams params = new SamplingParams(
                o.getFloat("temperature", 0.8f),
                o.getInt("top-k", 0),
                o.getFloat("top-p", 0.95f),
                o.getFloat("min-p", 0f),
                o.getLong("seed", System.nanoTime()),
                o.getInt("max-tokens", 256),
                o.all("stop"));
        Path modelPath = o.has("model") ? Path.of(o.get("model", null)) : DefaultModel.path();
        try (Model model = Model.load(modelPath)) {
            Tokenizer tokenizer = model.tokenizer();
            String promptText = o.get("prompt", "");
            int[] prompt;
            if (o.has("chat")) {
                ChatFormat chat = ChatFormat.require(model.gguf(), tokenizer);
                List<ChatMessage> messages = new ArrayList<>();
                if (o.has("system")) messages.add(new ChatMessage("system", o.get("system", "")));
                messages.add(new ChatMessage("user", promptText));
                prompt = chat.render(messages);
            } else {
                prompt = tokenizer.encode(promptText, true, false);
            }
            int context = model.config().contextLength();
            if (prompt.length >= context) {
                throw new UsageException("the prompt is " + prompt.length + " tokens long, but the model's context length is " + context);
            }
            OffHeapKvCache cache = KvCaches.create(model.kvLayout(), policy);
            try (GpuBackend gpu = device.equals("cuda") ? loadGpu(model) : null;
                 Decoder sequence = gpu == null ? model.newSequence(cache) : gpu.newSequence(cache)) {
                Generation generation = new Generation(sequence, tokenizer, new Sampler(params));
                String echoed = generation.prefill(prompt);
                if (!o.has("chat")) out.print(echoed);
                TokenListener printer = new TokenListener() {
                    @Override
                    public void onToken(int seq, int tokenId, String text) {
                        out.print(text);
                        out.flush();
                    }

                    @Override
                    public void onFinish(FinishReason reason, String trailingText) {
                        out.println(trailingText);
                        out.flush();
                    }
                };
                while (generation.step(printer)) {
                    // each step streams its token through the printer
                }
                KvCacheStats stats = cache.stats();
                err.printf(Locale.ROOT, "prompt: %d tokens, %.1f tok/s | decode: %d tokens, %.1f tok/s | finish: %s%n",
                        generation.promptTokens(), perSecond(generation.promptTokens(), generation.prefillNanos()),
                        generation.generatedCount(), perSecond(generation.generatedCount(), generation.decodeNanos()),
                        generation.finishReason().name().toLowerCase(Locale.ROOT));
                err.printf(Locale.ROOT, "kv policy: %s | mean retained KV fraction: %.3f | pruning rounds: %d (deferred %d)%n",
                        cache.policy().spec(), stats.meanRetainedFraction(), stats.totalRounds(), stats.totalDeferred());
            }
        }
        return 0;
    }

    private static GpuBackend loadGpu(Model model) {
        try {
            return GpuBackend.load(model);
        } catch (GpuUnavailableException e) {
            throw new UsageException("--device cuda: " + e.getMessage());
        }
    }

    private static double perSecond(int tokens, long nanos) {
        return nanos == 0 ? 0 : tokens * 1e9 / nanos;
    }
}
