package dev.lethe.worker.dev;

import dev.lethe.cli.UsageException;
import dev.lethe.schemas.Topics;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * {@code lethe bench-e2e}: the gateway's added token latency with many SSE clients. Starts a private Kafka broker
 * in this JVM (on a free port, so that nothing else reads its topics), then runs the load generator that lives with
 * the gateway ({@code dev.lethe.gateway.bench.E2eBench}) from the gateway's jar in a JVM of its own, sized as the
 * Helm chart sizes a gateway (768 MiB of heap), and waits for it. The report goes to bench/out/E2E.md unless
 * {@code --out} says otherwise; every other option is the load generator's.
 */
public final class BenchE2eCommand {
    public static final String USAGE = """
            usage: lethe bench-e2e [--clients N] [--jobs N] [--warmup D] [--duration D] [--interval D]
                                   [--chunk-tokens N] [--out FILE]
              --clients N      concurrent SSE clients (default 1000)
              --jobs N         jobs they follow, clients spread evenly (default 100)
              --warmup D       tokens stream this long before measuring starts (default 10s)
              --duration D     how long tokens stream while measured (default 60s)
              --interval D     time between two chunks of a job (default 100ms)
              --chunk-tokens N tokens per chunk (default 1)
              --out FILE       the report, Markdown (default bench/out/E2E.md)
            A stand-in writes the workers' events at that pace, so the numbers are the gateway's, not a model's.
            Needs the gateway's jar: ./mvnw -pl gateway-service -am package (./lethe builds it when missing).
            """;

    private static final String BENCH_MAIN = "dev.lethe.gateway.bench.E2eBench";
    private static final String HEAP = "-Xmx768m";

    private BenchE2eCommand() {}

    public static int run(String[] args, PrintStream out, PrintStream err) throws IOException {
        Path home = Path.of(System.getProperty("lethe.home", ".")).toAbsolutePath().normalize();
        Path jar = gatewayJar(home).orElseThrow(() -> new IllegalStateException("no gateway jar in "
                + home.resolve("gateway-service/target") + " (build it with ./mvnw -pl gateway-service -am package)"));
        List<String> benchArgs = new ArrayList<>(List.of(args).subList(1, args.length));
        for (String arg : benchArgs) {
            if (arg.equals("--bootstrap")) throw new UsageException("bench-e2e starts its own broker; --bootstrap is not an option\n" + USAGE);
        }
        if (!benchArgs.contains("--out")) {
            benchArgs.addAll(List.of("--out", home.resolve("bench/out/E2E.md").toString()));
        }

        int port = KafkaNode.freePort();
        Path data = Files.createTempDirectory("lethe-bench-kafka");
        out.println("lethe: starting a private Kafka broker on localhost:" + port + " ...");
        out.flush();
        KafkaRaftServer broker = KafkaNode.start(port, data);
        try {
            String bootstrap = "localhost:" + port;
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                admin.createTopics(Topics.newTopics(Topics.DEFAULT_PARTITIONS, (short) 1)).all().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("cannot create the topics: " + e, e);
            }
            List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    HEAP, "-cp", jar.toString(), "-Dloader.main=" + BENCH_MAIN,
                    "org.springframework.boot.loader.launch.PropertiesLauncher", "--bootstrap", bootstrap));
            command.addAll(benchArgs);
            Process bench = new ProcessBuilder(command).inheritIO().start();
            Runtime.getRuntime().addShutdownHook(new Thread(bench::destroy, "bench-e2e-stop"));
            try {
                return bench.waitFor();
            } catch (InterruptedException e) {
                bench.destroy();
                Thread.currentThread().interrupt();
                err.println("lethe: bench-e2e interrupted");
                return 130;
            }
        } finally {
            broker.shutdown();
            broker.awaitShutdown();
            deleteTree(data);
        }
    }

    /** The gateway's Spring Boot jar: gateway-service-*.jar in gateway-service/target, not a plain or sources jar. */
    private static Optional<Path> gatewayJar(Path home) throws IOException {
        Path target = home.resolve("gateway-service/target");
        if (!Files.isDirectory(target)) return Optional.empty();
        try (Stream<Path> files = Files.list(target)) {
            return files.filter(p -> p.getFileName().toString().matches("gateway-service-.*\\.jar"))
                    .filter(p -> !p.getFileName().toString().matches(".*-(plain|sources|javadoc|tests)\\.jar"))
                    .findFirst();
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("lethe: could not delete " + dir + ": " + e.getMessage());
        }
    }
}
