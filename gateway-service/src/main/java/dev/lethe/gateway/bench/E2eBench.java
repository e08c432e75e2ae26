package dev.lethe.gateway.bench;

import dev.lethe.gateway.GatewayApplication;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import reactor.core.publisher.Mono;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;
import reactor.netty.http.client.HttpClient;

/**
 * {@code lethe bench-e2e}: what the gateway adds to token latency while it serves many SSE clients.
 *
 * <p>Against a broker it is given, this starts a gateway in this JVM, submits {@code --jobs} jobs through
 * its API, opens {@code --clients} SSE streams spread evenly over them, and then has the {@link Pacer}
 * (standing in for the workers) write one chunk per job every {@code --interval} for {@code --duration}.
 * Every token is timed three times: written by the pacer, first read by a plain consumer in this JVM
 * ({@link KafkaWatch}: the earliest the gateway could have it), received by each client. The report gives
 * the percentiles of client receipt minus that first read (the gateway's share), of client receipt minus
 * the write (end to end), and of the gaps between a client's tokens, with the heap after each GC and the
 * process's resident memory over the run. Clients, gateway and pacer share this JVM and its CPUs, as a
 * gateway shares a node with its neighbours; the broker runs elsewhere (another JVM).
 */
public final class E2eBench {

    public static final String USAGE = """
            usage: bench-e2e --bootstrap HOST:PORT [--clients N] [--jobs N] [--warmup D] [--duration D]
                             [--interval D] [--chunk-tokens N] [--out FILE]
              --bootstrap     the Kafka broker (its topics must exist; nothing else may use them meanwhile)
              --clients N     concurrent SSE clients (default 1000)
              --jobs N        jobs they follow, clients spread evenly (default 100)
              --warmup D      tokens stream this long before measuring starts (default 10s)
              --duration D    how long tokens stream while measured, e.g. 60s (default 60s)
              --interval D    time between two chunks of a job, e.g. 100ms (default 100ms)
              --chunk-tokens N tokens per chunk (default 1)
              --out FILE      also write the report (Markdown) to FILE
            """;

    private static final String TENANT = "bench";
    private static final String KEY = "bench-key";

    record Settings(String bootstrap, int clients, int jobs, Duration warmup, Duration duration, Duration interval,
                    int chunkTokens, Path out) {
        /** Tokens of each job: the warm-up's and the measured duration's. */
        int tokensPerJob() {
            return (int) (warmup.plus(duration).toNanos() / interval.toNanos()) * chunkTokens;
        }
    }

    /** What one run measured. */
    record Result(Settings settings, Histogram added, Histogram endToEnd, Histogram gaps, int exactStreams,
                  int failedStreams, long tokenEvents, long clientFirst, long sendFailures, List<MemorySample> memory, double seconds) {}

    /** Heap in use after the last collection of the old generation, and resident memory, at one moment. */
    record MemorySample(double atSeconds, long heapAfterGc, long heapUsed, long rss, int openStreams, double loadAverage) {}

    private E2eBench() {
    }

    public static void main(String[] args) throws Exception {
        try {
            Settings settings = parse(args);
            Result result = run(settings, System.out);
            String report = report(result);
            System.out.println(report);
            if (settings.out() != null) {
                if (settings.out().toAbsolutePath().getParent() != null) Files.createDirectories(settings.out().toAbsolutePath().getParent());
                Files.writeString(settings.out(), report, StandardCharsets.UTF_8);
                System.out.println("bench-e2e: report written to " + settings.out());
            }
            System.exit(result.exactStreams() == settings.clients() ? 0 : 1);
        } catch (IllegalArgumentException e) {
            System.err.println("bench-e2e: " + e.getMessage());
            System.exit(2);
        }
    }

    static Result run(Settings s, PrintStream log) throws Exception {
        long started = System.nanoTime();
        log.printf("bench-e2e: %d clients on %d jobs, a chunk of %d token(s) every %s for %s after %s of warm-up%n",
                s.clients(), s.jobs(), s.chunkTokens(), human(s.interval()), human(s.duration()), human(s.warmup()));
        try (ConfigurableApplicationContext gateway = startGateway(s)) {
            int port = Integer.parseInt(gateway.getEnvironment().getProperty("local.server.port"));
            LoopResources loops = LoopResources.create("bench-client", 1, true);
            HttpClient http = HttpClient.create(ConnectionProvider.newConnection()).runOn(loops)
                    .baseUrl("http://localhost:" + port).responseTimeout(Duration.ofMinutes(10));
            try {
                List<String> jobIds = submit(http, s);
                TokenTimes times = new TokenTimes(jobIds, s.tokensPerJob());
                SseClient.Recorders recorders = new SseClient.Recorders(new Recorder(3), new Recorder(3), new Recorder(3),
                        new AtomicLong());
                Pacer pacer = new Pacer(s.bootstrap(), jobIds, TENANT, times, s.tokensPerJob(), s.chunkTokens(), s.interval());
                try (KafkaWatch watch = new KafkaWatch(s.bootstrap(), times)) {
                    pacer.running();
                    List<SseClient> clients = connect(http, jobIds, times, recorders, s, log);
                    List<MemorySample> memory = new ArrayList<>();
                    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
                    long streamStart = System.nanoTime();
                    sampler.scheduleAtFixedRate(() -> memory.add(sample(streamStart, clients)), 0, 1, TimeUnit.SECONDS);
                    // Measure only after the warm-up: the JIT compiles the hot paths of a fresh JVM in the first seconds.
                    sampler.schedule(() -> {
                        synchronized (recorders) {
                            recorders.added().reset();
                            recorders.endToEnd().reset();
                            recorders.gaps().reset();
                            recorders.clientFirst().set(0);
                        }
                    }, s.warmup().toMillis(), TimeUnit.MILLISECONDS);
                    pacer.run();
                    awaitDone(clients, Duration.ofSeconds(60));
                    sampler.shutdown();
                    sampler.awaitTermination(5, TimeUnit.SECONDS);
                    int exact = (int) clients.stream().filter(c -> c.exact(s.tokensPerJob())).count();
                    int failed = (int) clients.stream().filter(SseClient::failed).count();
                    long events = clients.stream().mapToLong(SseClient::tokenEvents).sum();
                    clients.forEach(SseClient::close);
                    return new Result(s, recorders.added().getIntervalHistogram(),
                            recorders.endToEnd().getIntervalHistogram(), recorders.gaps().getIntervalHistogram(), exact,
                            failed, events, recorders.clientFirst().get(), pacer.sendFailures.get(), List.copyOf(memory),
                            (System.nanoTime() - started) / 1e9);
                } finally {
                    pacer.close();
                }
            } finally {
                loops.disposeLater().block(Duration.ofSeconds(5));
            }
        }
    }

    private static ConfigurableApplicationContext startGateway(Settings s) {
        return new SpringApplicationBuilder(GatewayApplication.class).initializers(new OwnEventLoops()).run(
                "--server.port=0",
                "--spring.main.banner-mode=off",
                "--spring.kafka.bootstrap-servers=" + s.bootstrap(),
                "--lethe.gateway.kafka.create-topics=false",
                "--lethe.gateway.instance-id=bench-e2e",
                "--lethe.gateway.tenants[0].name=" + TENANT,
                "--lethe.gateway.tenants[0].api-keys[0]=" + KEY,
                "--lethe.gateway.tenants[0].max-streams=" + (s.clients() + 10),
                "--lethe.gateway.rate-limit.limit-for-period=1000000",
                "--logging.level.root=WARN",
                "--logging.level.dev.lethe=WARN");
    }

    private static List<String> submit(HttpClient http, Settings s) {
        Pattern id = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]+)\"");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < s.jobs(); i++) {
            String body = "{\"prompt\": \"bench job " + i + "\", \"max_tokens\": " + s.tokensPerJob() + "}";
            String answer = http.headers(h -> h.set("Authorization", "Bearer " + KEY).set("Content-Type", "application/json"))
                    .post().uri("/v1/jobs").send(Mono.just(io.netty.buffer.Unpooled.copiedBuffer(body, StandardCharsets.UTF_8)))
                    .responseSingle((response, content) -> {
                        if (response.status().code() != 202) {
                            return content.asString().defaultIfEmpty("").flatMap(text -> Mono.error(new IllegalStateException(
                                    "submitting a job got " + response.status() + ": " + text)));
                        }
                        return content.asString();
                    })
                    .block(Duration.ofSeconds(30));
            Matcher m = id.matcher(answer);
            if (!m.find()) {
                throw new IllegalStateException("no job id in " + answer);
            }
            ids.add(m.group(1));
        }
        return ids;
    }

    /** Opens the streams, 200 at a time, and waits until every one has its first event. */
    private static List<SseClient> connect(HttpClient http, List<String> jobIds, TokenTimes times,
                                           SseClient.Recorders recorders, Settings s, PrintStream log)
            throws InterruptedException {
        List<SseClient> clients = new ArrayList<>();
        for (int i = 0; i < s.clients(); i++) {
            int job = i % jobIds.size();
            SseClient client = new SseClient(job, times, recorders);
            client.connect(http, jobIds.get(job), "Bearer " + KEY);
            clients.add(client);
            if (i % 200 == 199) {
                Thread.sleep(200);
            }
        }
        log.printf("bench-e2e: %d streams opening%n", clients.size());
        return clients;
    }

    private static void awaitDone(List<SseClient> clients, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline && !clients.stream().allMatch(c -> c.done() || c.failed())) {
            Thread.sleep(100);
        }
    }

    private static MemorySample sample(long start, List<SseClient> clients) {
        long afterGc = 0;
        long used = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                used += pool.getUsage().getUsed();
                if (pool.getCollectionUsage() != null) {
                    afterGc += pool.getCollectionUsage().getUsed();
                }
            }
        }
        int open = (int) clients.stream().filter(c -> !c.done() && !c.failed()).count();
        return new MemorySample((System.nanoTime() - start) / 1e9, afterGc, used, residentBytes(), open,
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    /** VmRSS of this process (Linux), or -1 elsewhere. */
    private static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux
        }
        return -1;
    }

    // ---- the report ----

    static String report(Result r) {
        Settings s = r.settings();
        StringBuilder md = new StringBuilder();
        md.append("## Gateway under load: `./lethe bench-e2e`\n\n");
        md.append(String.format("%d SSE clients following %d jobs (%d per job), one chunk of %d token(s) per job every %s"
                        + " for %s of warm-up then %s measured (%d tokens per job); gateway, clients and pacer in one JVM"
                        + " (%d CPUs, heap limit %s MiB), the broker in another.%n%n", s.clients(), s.jobs(),
                s.clients() / s.jobs(), s.chunkTokens(), human(s.interval()), human(s.warmup()), human(s.duration()),
                s.tokensPerJob(),
                Runtime.getRuntime().availableProcessors(), mib(Runtime.getRuntime().maxMemory())));
        md.append(String.format("Streams exact (every token once, in order, then `done`): **%d of %d**; failed: %d; "
                        + "token events received: %d (%d of them before the plain consumer read the token, counted as 0 "
                        + "added); pacer send failures: %d.%n%n", r.exactStreams(), s.clients(),
                r.failedStreams(), r.tokenEvents(), r.clientFirst(), r.sendFailures()));
        md.append("| latency (ms) | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|\n");
        row(md, "**added by the gateway** (Kafka consumer read → client receipt)", r.added());
        row(md, "end to end (pacer write → client receipt)", r.endToEnd());
        row(md, "gap between a client's tokens (paced every " + s.interval().toMillis() + " ms)", r.gaps());
        md.append("\nMemory of the JVM over the run (old generation plus young after each collection; resident set):\n\n");
        md.append("| s | heap after GC (MiB) | heap used (MiB) | RSS (MiB) | open streams | machine load average |\n"
                + "|---|---|---|---|---|---|\n");
        List<MemorySample> memory = r.memory();
        int step = Math.max(1, memory.size() / 12);
        for (int i = 0; i < memory.size(); i += step) {
            MemorySample m = memory.get(i);
            memoryRow(md, m);
        }
        if (!memory.isEmpty() && (memory.size() - 1) % step != 0) {
            memoryRow(md, memory.getLast());
        }
        md.append(String.format("%nWhole run %.0f s.%n", r.seconds()));
        return md.toString();
    }

    private static void memoryRow(StringBuilder md, MemorySample m) {
        md.append(String.format("| %.0f | %s | %s | %s | %d | %.1f |%n", m.atSeconds(), mib(m.heapAfterGc()),
                mib(m.heapUsed()), mib(m.rss()), m.openStreams(), m.loadAverage()));
    }

    private static void row(StringBuilder md, String name, Histogram h) {
        md.append(String.format("| %s | %s | %s | %s | %s | %s |%n", name, ms(h.getValueAtPercentile(50)),
                ms(h.getValueAtPercentile(90)), ms(h.getValueAtPercentile(99)), ms(h.getValueAtPercentile(99.9)),
                ms(h.getMaxValue())));
    }

    private static String human(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static String ms(long micros) {
        return String.format("%.1f", micros / 1000.0);
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "?" : String.format("%.0f", bytes / (1024.0 * 1024.0));
    }

    // ---- options ----

    static Settings parse(String[] args) {
        String bootstrap = null;
        int clients = 1000;
        int jobs = 100;
        Duration warmup = Duration.ofSeconds(10);
        Duration duration = Duration.ofSeconds(60);
        Duration interval = Duration.ofMillis(100);
        int chunkTokens = 1;
        Path out = null;
        for (int i = 0; i < args.length; i++) {
            String option = args[i];
            if (option.equals("--help") || option.equals("-h")) {
                throw new IllegalArgumentException(USAGE);
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(option + " needs a value\n" + USAGE);
            }
            String value = args[++i];
            switch (option) {
                case "--bootstrap" -> bootstrap = value;
                case "--clients" -> clients = positive(option, value);
                case "--jobs" -> jobs = positive(option, value);
                case "--warmup" -> warmup = duration(option, value);
                case "--duration" -> duration = duration(option, value);
                case "--interval" -> interval = duration(option, value);
                case "--chunk-tokens" -> chunkTokens = positive(option, value);
                case "--out" -> out = Path.of(value);
                default -> throw new IllegalArgumentException("unknown option '" + option + "'\n" + USAGE);
            }
        }
        if (bootstrap == null) {
            throw new IllegalArgumentException("--bootstrap is required\n" + USAGE);
        }
        if (jobs > clients) {
            throw new IllegalArgumentException("--jobs (" + jobs + ") must not exceed --clients (" + clients + ")");
        }
        if (duration.compareTo(interval) < 0) {
            throw new IllegalArgumentException("--duration (" + duration + ") must be at least --interval (" + interval + ")");
        }
        return new Settings(bootstrap, clients, jobs, warmup, duration, interval, chunkTokens, out);
    }

    private static int positive(String option, String value) {
        try {
            int n = Integer.parseInt(value);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(option + " needs a whole number above 0, got '" + value + "'");
    }

    /** {@code 60s}, {@code 100ms}, {@code 2m}. */
    private static Duration duration(String option, String value) {
        Matcher m = Pattern.compile("^(\\d+)(ms|s|m)$").matcher(value);
        if (!m.matches() || Long.parseLong(m.group(1)) == 0) {
            throw new IllegalArgumentException(option + " needs a duration such as 100ms, 60s or 2m, got '" + value + "'");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            default -> Duration.ofMinutes(n);
        };
    }
}
