package dev.lethe.engine.bench;

import dev.lethe.cache.KvCacheStats;
import dev.lethe.cache.KvCaches;
import dev.lethe.cache.OffHeapKvCache;
import dev.lethe.cache.policy.PolicySpec;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.Sequence;
import dev.lethe.engine.sampler.Sampler;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Accuracy on held-out reasoning problems under each KV policy: every problem is decoded greedily from its
 * prompt with the policy pruning as it goes, and counts as solved when the answer line of what the model wrote
 * equals the reference answer. A second, weaker score counts the registers the loop computes: right when the
 * answer line gives each register the program assigns its reference value, whatever it says of the registers
 * the program only reads or never mentions after the prompt (those are echoes of the input, which no
 * attention-based policy can know to keep, since nothing looks at them until the answer line). Fixed-budget policies are swept over budget ratios, Lethe over its own
 * parameters, and each row reports the mean retained KV it reached (retained / full length, averaged over
 * every layer after every step of every problem).
 */
public final class TaskBench {
    /** Marks the line that holds a solution's final answer (training/tasks.py writes it last). */
    static final String ANSWER_PREFIX = "answer ";
    /** Tokens a decode may run past the reference solution's length before it counts as not finishing. */
    static final int LENGTH_MARGIN = 64;

    /** One held-out problem: the prompt given to the model, the reference solution and its answer line. */
    public record Problem(String prompt, String solution, String answer) {}

    /** What one greedy decode wrote and whether its answer is right. */
    public record Outcome(String text, boolean correct, boolean computedCorrect, boolean exactSolution,
                          int generatedTokens, double retainedFractionSum, long retainedSamples) {}

    /** One policy setting over all problems. */
    public record Row(String label, String policy, PolicySpec spec, double meanRetained, int correct,
                      int computedCorrect, int exactSolutions, int problems, long generatedTokens, double seconds) {
        public double accuracy() {
            return (double) correct / problems;
        }

        public double computedAccuracy() {
            return (double) computedCorrect / problems;
        }
    }

    private final Model model;
    private final List<Problem> problems;

    public TaskBench(Model model, List<Problem> problems) {
        if (problems.isEmpty()) throw new IllegalArgumentException("no problems to benchmark");
        this.model = model;
        this.problems = List.copyOf(problems);
    }

    /**
     * Reads problems written by {@code training/tasks.py}: per problem a line "### prompt", the prompt, a line
     * "### solution", the solution (its last line is the answer), a line "### end". Keeps those whose solution
     * is longer than {@code minSolutionChars}, at most {@code limit} of them, in file order.
     */
    public static List<Problem> readProblems(Path file, int minSolutionChars, int limit) throws IOException {
        List<Problem> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        StringBuilder prompt = null;
        StringBuilder solution = null;
        for (int i = 0; i < lines.size() && out.size() < limit; i++) {
            String line = lines.get(i);
            switch (line) {
                case "### prompt" -> {
                    prompt = new StringBuilder();
                    solution = null;
                }
                case "### solution" -> {
                    if (prompt == null) throw badFile(file, i, "'### solution' before '### prompt'");
                    solution = new StringBuilder();
                }
                case "### end" -> {
                    if (solution == null) throw badFile(file, i, "'### end' before '### solution'");
                    String answer = answerOf(solution.toString());
                    if (answer == null) throw badFile(file, i, "a solution without an answer line");
                    if (solution.length() > minSolutionChars) out.add(new Problem(prompt.toString(), solution.toString(), answer));
                    prompt = null;
                    solution = null;
                }
                default -> {
                    StringBuilder part = solution != null ? solution : prompt;
                    if (part == null) throw badFile(file, i, "text outside a problem");
                    part.append(line).append('\n');
                }
            }
        }
        return out;
    }

    private static IllegalArgumentException badFile(Path file, int line, String problem) {
        return new IllegalArgumentException(file + " line " + (line + 1) + ": " + problem);
    }

    /** The last line of {@code text} that starts with "answer ", or null if there is none. */
    static String answerOf(String text) {
        String[] lines = text.split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            if (lines[i].startsWith(ANSWER_PREFIX)) return lines[i];
        }
        return null;
    }

    /**
     * Whether {@code answer} gives every register the prompt's loop assigns ("x:=...") the value the reference
     * answer gives it.
     */
    static boolean assignedRegistersMatch(Problem problem, String answer) {
        if (answer == null) return false;
        List<String> given = List.of(answer.substring(ANSWER_PREFIX.length()).split(" "));
        for (String line : problem.prompt().split("\n")) {
            int assign = line.indexOf(":=");
            if (assign <= 0) continue;
            String register = line.substring(0, assign);
            String expected = valueIn(problem.answer(), register);
            if (expected == null || !given.contains(register + "=" + expected)) return false;
        }
        return true;
    }

    private static String valueIn(String answer, String register) {
        for (String item : answer.substring(ANSWER_PREFIX.length()).split(" ")) {
            if (item.startsWith(register + "=")) return item.substring(register.length() + 1);
        }
        return null;
    }

    /**
     * Greedy decoding of one problem under a policy, until end of text, the context's end, or
     * {@link #LENGTH_MARGIN} tokens past the reference solution's length.
     */
    public Outcome solve(Problem problem, PolicySpec spec) {
        int[] prompt = model.tokenizer().encode(problem.prompt(), true, false);
        int reference = model.tokenizer().encode(problem.solution(), false, false).length;
        int limit = Math.min(reference + LENGTH_MARGIN, model.config().contextLength() - prompt.length);
        if (limit <= 0) {
            throw new IllegalArgumentException("a problem's prompt (" + prompt.length + " tokens) fills the model's context of "
                    + model.config().contextLength());
        }
        int[] generated = new int[limit];
        int n = 0;
        OffHeapKvCache cache = KvCaches.create(model.kvLayout(), spec);
        cache.declarePromptLength(prompt.length);
        KvCacheStats stats;
        try (Sequence s = model.newSequence(cache)) {
            float[] logits = s.prefill(prompt);
            while (n < limit) {
                int token = Sampler.argmax(logits);
                if (model.tokenizer().isEndOfGeneration(token)) break;
                generated[n++] = token;
                if (n < limit) logits = s.forward(token);
            }
            stats = cache.stats();
        }
        String text = model.tokenizer().decode(java.util.Arrays.copyOf(generated, n));
        String answer = answerOf(text);
        return new Outcome(text, problem.answer().equals(answer), assignedRegistersMatch(problem, answer),
                text.equals(problem.solution()), n, stats.retainedFractionSum(), stats.retainedSamples());
    }

    /**
     * Every setting over every problem, on {@code threads} threads (each greedy decode is independent: a sequence
     * of its own on the shared read-only model, so the rows do not depend on the thread count); progress lines
     * go to {@code progress}, one per setting, in order. A row's seconds add up its decodes' times.
     */
    public List<Row> run(List<String> labels, List<PolicySpec> specs, int threads, PrintStream progress) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, not " + threads);
        List<Row> rows = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<List<Future<Timed>>> pending = new ArrayList<>();
            for (PolicySpec spec : specs) {
                List<Future<Timed>> perProblem = new ArrayList<>();
                for (Problem p : problems) perProblem.add(pool.submit(() -> timedSolve(p, spec)));
                pending.add(perProblem);
            }
            for (int i = 0; i < specs.size(); i++) {
                int correct = 0;
                int computed = 0;
                int exact = 0;
                long tokens = 0;
                double fractionSum = 0;
                long samples = 0;
                double seconds = 0;
                for (Future<Timed> f : pending.get(i)) {
                    Timed t = await(f);
                    Outcome o = t.outcome();
                    if (o.correct()) correct++;
                    if (o.computedCorrect()) computed++;
                    if (o.exactSolution()) exact++;
                    tokens += o.generatedTokens();
                    fractionSum += o.retainedFractionSum();
                    samples += o.retainedSamples();
                    seconds += t.seconds();
                }
                Row row = new Row(labels.get(i), specs.get(i).name(), specs.get(i), samples == 0 ? 1 : fractionSum / samples,
                        correct, computed, exact, problems.size(), tokens, seconds);
                rows.add(row);
                progress.printf(Locale.ROOT, "  %-34s %3d/%d correct (%d computed registers right), retained %5.1f%%, %.1f s (%.0f tok/s per thread)%n",
                        row.label(), correct, problems.size(), computed, 100 * row.meanRetained(), seconds, tokens / seconds);
            }
        }
        return rows;
    }

    private record Timed(Outcome outcome, double seconds) {}

    private Timed timedSolve(Problem p, PolicySpec spec) {
        long t0 = System.nanoTime();
        Outcome o = solve(p, spec);
        return new Timed(o, (System.nanoTime() - t0) / 1e9);
    }

    private static Timed await(Future<Timed> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a decode", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        }
    }

    /**
     * The settings of a sweep: the full cache; Lethe at its defaults and at each sparse ratio τ × recent ratio
     * × decay γ with Δ = {@code delta}; every other named policy at each budget ratio, with a grace of Δ tokens
     * (its budget never falls below prompt + Δ, so that, like Lethe, it starts pruning once the model has
     * written Δ tokens, rather than cutting the prompt to the ratio at once). {@code sinks}, when not
     * null, sets the sink count of the two policies that have one, Lethe's sweep and StreamingLLM, alike (a
     * count that covers the prompt keeps it whole under both).
     */
    /** {@code --sinks N} sets the sink count; {@code --sinks prompt} keeps the whole prompt instead (keep-prompt). */
    private static List<String> sinkParameters(String sinks) {
        return sinks.strip().equals("prompt") ? List.of("keep-prompt", "true") : List.of("sinks", sinks.strip());
    }

    public static Map<String, PolicySpec> settings(List<String> policies, List<String> budgets, List<String> taus,
                                                   List<String> recentRatios, List<String> gammas, int delta, String sinks) {
        String sinkLabel = sinks == null ? "" : " s=" + sinks.strip();
        Map<String, PolicySpec> out = new LinkedHashMap<>();
        out.put("full", PolicySpec.of("full"));
        for (String policy : policies) {
            String name = policy.strip();
            switch (name) {
                case "full" -> { }
                case "lethe" -> {
                    out.put("lethe (defaults)", PolicySpec.of("lethe"));
                    for (String g : gammas) {
                        for (String rr : recentRatios) {
                            for (String tau : taus) {
                                var parameters = new ArrayList<>(List.of("sparse-ratio", tau.strip(), "delta", String.valueOf(delta),
                                        "recent-ratio", rr.strip(), "gamma", g.strip()));
                                if (sinks != null) parameters.addAll(sinkParameters(sinks));
                                out.put("lethe τ=" + tau.strip() + " Δ=" + delta + " r=" + rr.strip() + " γ=" + g.strip() + sinkLabel,
                                        PolicySpec.of("lethe", parameters.toArray(String[]::new)));
                            }
                        }
                    }
                }
                default -> {
                    for (String b : budgets) {
                        var parameters = new ArrayList<>(List.of("budget-ratio", b.strip(), "grace", String.valueOf(delta)));
                        boolean withSinks = sinks != null && name.equals("streamingllm");
                        if (withSinks) parameters.addAll(sinkParameters(sinks));
                        out.put(name + " budget=" + b.strip() + (withSinks ? sinkLabel : ""),
                                PolicySpec.of(name, parameters.toArray(String[]::new)));
                    }
                }
            }
        }
        return out;
    }

    public static void printTable(List<Row> rows, PrintStream out) {
        out.printf(Locale.ROOT, "%-36s %9s %9s %9s %7s %9s %8s%n", "policy", "retained", "accuracy", "computed", "exact",
                "tokens", "tok/s");
        for (Row r : rows) {
            out.printf(Locale.ROOT, "%-36s %8.1f%% %8.1f%% %8.1f%% %3d/%-3d %9d %8.0f%n", r.label(), 100 * r.meanRetained(),
                    100 * r.accuracy(), 100 * r.computedAccuracy(), r.exactSolutions(), r.problems(), r.generatedTokens(),
                    r.generatedTokens() / r.seconds());
        }
    }

    /**
     * Accuracy (or, with {@code computed}, the computed-registers score) against mean retained KV, one series
     * per policy, points sorted by retention.
     */
    public static void writeChart(List<Row> rows, boolean computed, String title, Path file) throws IOException {
        Map<String, XYSeries> byPolicy = new LinkedHashMap<>();
        for (Row r : rows) {
            byPolicy.computeIfAbsent(r.policy(), XYSeries::new)
                    .add(100 * r.meanRetained(), 100 * (computed ? r.computedAccuracy() : r.accuracy()));
        }
        XYSeriesCollection data = new XYSeriesCollection();
        byPolicy.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart(title, "mean retained KV (% of full cache)",
                computed ? "computed registers right (%)" : "accuracy: answer line exact (%)",
                data, PlotOrientation.VERTICAL, true, false, false);
        ((XYPlot) chart.getPlot()).setRenderer(new XYLineAndShapeRenderer(true, true));
        Files.createDirectories(file.toAbsolutePath().getParent());
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1000, 600);
    }
}
