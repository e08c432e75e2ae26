package dev.lethe.cli;

import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.bench.QualityBench;
import dev.lethe.engine.bench.TaskBench;
import dev.lethe.engine.model.Model;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** {@code lethe bench-quality}: perplexity and greedy agreement of every KV policy against the full cache. */
final class BenchQualityCommand {
    static final String USAGE = """
            usage: lethe bench-quality [--model FILE] [--text FILE] [--tokens N] [--policies a,b,...]
                                       [--budgets r,r,...] [--taus t,t,...] [--sweep-delta N]
                                       [--prompt-tokens N] [--agreement-tokens N] [--out DIR]
              --text FILE          text for teacher-forced perplexity (default: text the model writes
                                   itself from BOS at temperature 1, seed 42)
              --tokens N           tokens of text to score (default 1024)
              --policies LIST      default: full,lethe,streamingllm,h2o,tova,snapkv,pyramidkv,rkv
              --budgets LIST       budget ratios for the fixed-budget policies (default 0.25,0.5,0.75)
              --taus LIST          Lethe sparse ratios swept besides its defaults (default 100,20,5)
              --sweep-delta N      Lethe's Δ in the τ sweep (default 64)
              --prompt-tokens N    prompt of the greedy-agreement run, taken from the text (default 32)
              --agreement-tokens N greedy tokens compared with the full cache's (default 256)
              --out DIR            where the PNG charts go (default bench/out/quality)
            with --task NAME: greedy accuracy on held-out problems instead (TaskBench); NAME is trace
              --test FILE          the held-out problems (default training/data/NAME-test.txt)
              --problems N         how many, the first with solutions over --min-chars (default 8; 1000)
              --recent-ratios LIST Lethe's recent ratios swept with --taus (default 0.3,0.2)
              --gammas LIST        Lethe's score decays swept with them (default 0.95)
              --sinks N|prompt     sink tokens of Lethe's sweep and of StreamingLLM alike (default: theirs, 4);
                                   prompt: the whole prompt (their keep-prompt=true)
              --threads N          problems decoded at once (default: the processors; the table does not depend on it)
              defaults then: --budgets 0.2,0.35,0.5 --taus 20,5 --sweep-delta 64
            """;

    private BenchQualityCommand() {}

    static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        Options o = Options.parse(args, 1, Set.of("model", "text", "tokens", "policies", "budgets", "taus",
                "sweep-delta", "prompt-tokens", "agreement-tokens", "out", "task", "test", "problems", "min-chars",
                "recent-ratios", "gammas", "sinks", "threads"), Set.of());
        Path modelPath = o.has("model") ? Path.of(o.get("model", null)) : DefaultModel.path();
        if (o.has("task")) return runTask(o, modelPath, out, err);
        int tokens = o.getInt("tokens", 1024);
        int promptTokens = o.getInt("prompt-tokens", 32);
        int agreementTokens = o.getInt("agreement-tokens", 256);
        if (tokens < 2 || promptTokens < 1 || agreementTokens < 1) throw new UsageException("--tokens, --prompt-tokens and --agreement-tokens must be positive");
        List<String> policies = List.of(o.get("policies", "full,lethe,streamingllm,h2o,tova,snapkv,pyramidkv,rkv").split(","));
        List<String> budgets = List.of(o.get("budgets", "0.25,0.5,0.75").split(","));
        List<String> taus = List.of(o.get("taus", "100,20,5").split(","));
        String sweepDelta = String.valueOf(o.getInt("sweep-delta", 64));
        Path outDir = Path.of(o.get("out", "bench/out/quality"));

        try (Model model = Model.load(modelPath)) {
            int[] text;
            if (o.has("text")) {
                int[] encoded = model.tokenizer().encode(Files.readString(Path.of(o.get("text", null))), true, false);
                text = Arrays.copyOf(encoded, Math.min(tokens, encoded.length));
            } else {
                text = QualityBench.selfGeneratedText(model, tokens, 42);
            }
            if (text.length > model.config().contextLength()) {
                throw new UsageException("--tokens " + text.length + " exceeds the model's context length " + model.config().contextLength());
            }
            if (promptTokens >= text.length) throw new UsageException("--prompt-tokens must be shorter than the text");
            List<String> labels = new ArrayList<>();
            List<PolicySpec> specs = new ArrayList<>();
            labels.add("full");
            specs.add(PolicySpec.of("full"));
            for (String p : policies) {
                String name = p.strip();
                switch (name) {
                    case "full" -> { }
                    case "lethe" -> {
                        labels.add("lethe (defaults)");
                        specs.add(PolicySpec.of("lethe"));
                        for (String tau : taus) {
                            labels.add("lethe τ=" + tau.strip() + " Δ=" + sweepDelta);
                            specs.add(PolicySpec.of("lethe", "sparse-ratio", tau.strip(), "delta", sweepDelta));
                        }
                    }
                    default -> {
                        for (String b : budgets) {
                            labels.add(name + " budget=" + b.strip());
                            specs.add(PolicySpec.of(name, "budget-ratio", b.strip()));
                        }
                    }
                }
            }
            // Build every policy once up front so a bad parameter fails before minutes of work.
            for (PolicySpec spec : specs) dev.lethe.cache.policy.Policies.create(spec, model.kvLayout());

            err.printf(Locale.ROOT, "bench-quality: %s, %d tokens of %s, %d settings%n", modelPath.getFileName(), text.length,
                    o.has("text") ? o.get("text", null) : "self-generated text (seed 42)", specs.size());
            List<QualityBench.Row> rows = new QualityBench(model, text, promptTokens, agreementTokens).run(labels, specs, err);
            QualityBench.printTable(rows, out);
            Files.createDirectories(outDir);
            QualityBench.Row lethe = rows.stream().filter(r -> r.label().equals("lethe (defaults)")).findFirst()
                    .orElse(rows.getLast());
            QualityBench.writeCharts(rows, lethe, model.config().layers(), outDir);
            out.println("charts: " + outDir.resolve("retention-per-layer.png") + ", " + outDir.resolve("quality-vs-memory.png"));
        }
        return 0;
    }

    /** --sinks: a count, or "prompt" for the whole prompt (keep-prompt); null when not given. */
    private static String sinks(Options o) {
        if (!o.has("sinks")) return null;
        String value = o.get("sinks", null).strip();
        if (value.equals("prompt")) return value;
        o.getInt("sinks", 4); // a count otherwise: refused with the option's name if it is not one
        return value;
    }

    private static int runTask(Options o, Path modelPath, PrintStream out, PrintStream err) throws IOException {
        String task = o.get("task", null);
        if (!task.equals("trace")) throw new UsageException("unknown --task '" + task + "' (known: trace)");
        Path test = o.has("test") ? Path.of(o.get("test", null))
                : Path.of(System.getProperty("lethe.home", ".")).resolve("training/data/" + task + "-test.txt");
        if (!Files.isRegularFile(test)) throw new UsageException("no held-out problems at " + test + " (--test FILE)");
        int count = o.getInt("problems", 8);
        int minChars = o.getInt("min-chars", 1000);
        List<TaskBench.Problem> problems = TaskBench.readProblems(test, minChars, count);
        if (problems.isEmpty()) throw new UsageException(test + " has no problem with a solution over " + minChars + " characters");
        var settings = TaskBench.settings(List.of(o.get("policies", "full,lethe,streamingllm,h2o,tova,snapkv,pyramidkv,rkv").split(",")),
                List.of(o.get("budgets", "0.2,0.35,0.5").split(",")), List.of(o.get("taus", "20,5").split(",")),
                List.of(o.get("recent-ratios", "0.3,0.2").split(",")), List.of(o.get("gammas", "0.95").split(",")),
                o.getInt("sweep-delta", 64), sinks(o));
        Path outDir = Path.of(o.get("out", "bench/out/task-" + task));
        try (Model model = Model.load(modelPath)) {
            for (PolicySpec spec : settings.values()) dev.lethe.cache.policy.Policies.create(spec, model.kvLayout());
            err.printf(Locale.ROOT, "bench-quality --task %s: %s, %d held-out problems from %s (solutions over %d chars), %d settings%n",
                    task, modelPath.getFileName(), problems.size(), test, minChars, settings.size());
            List<TaskBench.Row> rows = new TaskBench(model, problems).run(List.copyOf(settings.keySet()), List.copyOf(settings.values()),
                    o.getInt("threads", Runtime.getRuntime().availableProcessors()), err);
            TaskBench.printTable(rows, out);
            String title = "Task " + task + " (" + problems.size() + " held-out problems): ";
            TaskBench.writeChart(rows, false, title + "accuracy against retained KV", outDir.resolve("accuracy-vs-memory.png"));
            TaskBench.writeChart(rows, true, title + "computed registers against retained KV", outDir.resolve("computed-vs-memory.png"));
            out.println("charts: " + outDir.resolve("accuracy-vs-memory.png") + ", " + outDir.resolve("computed-vs-memory.png"));
        }
        return 0;
    }
}
