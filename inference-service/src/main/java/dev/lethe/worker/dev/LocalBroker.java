package dev.lethe.worker.dev;

import dev.lethe.cli.UsageException;
import dev.lethe.schemas.Topics;
import dev.lethe.worker.WorkerApplication;
import kafka.server.KafkaRaftServer;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.logging.LogLevel;
import org.springframework.boot.logging.LoggingSystem;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * {@code lethe up}: all of Lethe on one machine, without Docker. Starts a single-node Kafka broker in this JVM
 * (Kafka's own KRaft server, broker and controller in one, with its data in a temporary folder that goes with
 * it), creates the topics, starts the inference worker in this JVM (or {@code --workers N} workers as separate
 * JVMs sharing a checkpoint folder, or none) and the gateway as a child process when its jar has been built, and
 * stays in the foreground until Ctrl-C, then stops them in reverse order.
 *
 * <p>spring-kafka-test's {@code EmbeddedKafkaKraftBroker} would be shorter, but its test kit binds every listener
 * to a random port (its {@code kafkaPorts} setting is ignored in KRaft mode), and clients expect 9092.
 */
public final class LocalBroker {
    public static final String USAGE = """
            usage: lethe up [--port N] [--partitions N] [--workers N] [--worker-port N] [--checkpoints DIR]
                            [--step-time DURATION] [--no-gateway]
              --port N          Kafka's port on localhost (default 9092)
              --partitions N    partitions of each topic (default 12)
              --workers N       inference workers: 1 (default) runs in this JVM; more run as separate JVMs, worker-1..N,
                                which share the checkpoint folder and the partitions (kill one and watch its jobs move);
                                0 runs the broker alone
              --worker-port N   HTTP port of the first worker: /actuator/health, /actuator/prometheus (default 8081;
                                worker-i listens on N+i-1)
              --checkpoints DIR the workers' checkpoint store (default: <tmpdir>/lethe-checkpoints)
              --step-time D     each decode step lasts at least D (e.g. 20ms), so that the jobs of a tiny model last
                                long enough to preempt, kill or move by hand (default: as fast as it goes)
              --no-gateway      do not start the gateway even if gateway-service/target has its jar
            Stops on Ctrl-C. The model is $LETHE_WORKER_MODEL, else models/lethe-trace.gguf (the project's own).
            """;

    private record Settings(int port, int partitions, int workers, int workerPort, String checkpoints, String stepTime,
                            boolean gateway) {}

    private LocalBroker() {}

    public static int up(String[] args, PrintStream out, PrintStream err) {
        Settings settings = parse(args);
        requireFree(settings.port(), "Kafka", "--port");
        for (int i = 0; i < settings.workers(); i++) requireFree(settings.workerPort() + i, "worker " + (i + 1), "--worker-port");
        Path home = Path.of(System.getProperty("lethe.home", ".")).toAbsolutePath().normalize();
        String bootstrap = "localhost:" + settings.port();

        quietKafkaLogs();
        // Registered before anything starts, so that a stop during start-up stops what has started so far.
        LocalStack stack = LocalStack.withShutdownHook(err);
        List<Process> workers = new ArrayList<>();
        Optional<Path> gatewayJar = settings.gateway() ? gatewayJar(home) : Optional.empty();
        try {
            out.println("lethe: starting Kafka on " + bootstrap + " ...");
            out.flush();
            Path dataDir = createDataDir();
            KafkaRaftServer broker = KafkaNode.start(settings.port(), dataDir);
            stack.adopt(() -> {
                broker.shutdown();
                broker.awaitShutdown();
                deleteTree(dataDir);
            });
            createTopics(bootstrap, settings.partitions());

            List<String> workerArgs = new ArrayList<>(List.of("--spring.kafka.bootstrap-servers=" + bootstrap,
                    "--lethe.worker.topics.partitions=" + settings.partitions(),
                    "--lethe.worker.checkpoints.store=" + settings.checkpoints(),
                    "--logging.level.org.apache.kafka=WARN", "--logging.level.kafka=WARN",
                    "--logging.level.state.change.logger=WARN"));
            if (settings.stepTime() != null) workerArgs.add("--lethe.worker.min-step-time=" + settings.stepTime());
            if (settings.workers() == 1) {
                out.println("lethe: starting the worker ...");
                out.flush();
                List<String> args1 = new ArrayList<>(workerArgs);
                args1.add("--server.port=" + settings.workerPort());
                ConfigurableApplicationContext worker = new SpringApplicationBuilder(WorkerApplication.class)
                        .main(WorkerApplication.class)
                        .registerShutdownHook(false) // the stack stops it, before the broker it writes to
                        .run(args1.toArray(String[]::new));
                stack.adopt(worker);
            } else {
                for (int i = 1; i <= settings.workers(); i++) {
                    out.println("lethe: starting worker-" + i + " (a separate JVM) ...");
                    out.flush();
                    List<String> args1 = new ArrayList<>(workerArgs);
                    args1.add("--server.port=" + (settings.workerPort() + i - 1));
                    args1.add("--lethe.worker.id=worker-" + i);
                    // Notice a killed worker within seconds, not Kafka's default 45.
                    args1.add("--spring.kafka.consumer.properties.session.timeout.ms=6000");
                    args1.add("--spring.kafka.consumer.properties.heartbeat.interval.ms=1000");
                    workers.add(stack.spawnWorker(workerCommand(args1)));
                }
            }
            if (gatewayJar.isPresent()) {
                Process gateway = stack.spawnGateway(gatewayCommand(gatewayJar.get(), bootstrap));
                gateway.onExit().thenAccept(p -> err.println("lethe: the gateway exited with code " + p.exitValue()));
            }
        } catch (LocalStack.Stopping e) {
            return 0;  // stopped during start-up; the shutdown hook stops what had started
        }

        out.println();
        out.println("lethe is up:");
        out.println("  Kafka    " + bootstrap + "  (topics " + String.join(", ", Topics.ALL.stream().map(Topics.Spec::name).toList())
                + "; " + settings.partitions() + " partitions each)");
        if (settings.workers() == 1) {
            out.println("  worker   http://localhost:" + settings.workerPort() + "/actuator/health  and  /actuator/prometheus");
        }
        for (int i = 0; i < workers.size(); i++) {
            out.println("  worker-" + (i + 1) + " pid " + workers.get(i).pid() + ", http://localhost:" + (settings.workerPort() + i)
                    + "/actuator/health");
        }
        if (settings.workers() > 0) out.println("  checkpoints " + settings.checkpoints());
        if (gatewayJar.isPresent()) {
            out.println("  gateway  " + gatewayJar.get().getFileName() + " (its address is in its log above)");
        } else if (settings.gateway()) {
            out.println("  gateway  not started: no runnable jar in " + home.resolve("gateway-service/target")
                    + " (build it with ./mvnw -pl gateway-service -am package)");
        }
        out.println("Ctrl-C stops everything.");
        out.flush();
        try {
            stack.awaitStopped();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    /**
     * The broker and Kafka's clients log every setting at INFO, and the broker starts before Spring Boot has set up
     * logging (whose default, until then, is DEBUG); the worker gets the same levels as arguments.
     */
    private static void quietKafkaLogs() {
        LoggingSystem logging = LoggingSystem.get(LocalBroker.class.getClassLoader());
        logging.setLogLevel(LoggingSystem.ROOT_LOGGER_NAME, LogLevel.INFO);
        for (String name : List.of("org.apache.kafka", "kafka", "state.change.logger")) logging.setLogLevel(name, LogLevel.WARN);
    }

    private static Settings parse(String[] args) {
        int port = 9092;
        int partitions = Topics.DEFAULT_PARTITIONS;
        int workerPort = 8081;
        int workers = 1;
        String checkpoints = Path.of(System.getProperty("java.io.tmpdir"), "lethe-checkpoints").toString();
        String stepTime = null;
        boolean gateway = true;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = intValue(args, ++i, "--port", 1, 65535);
                case "--partitions" -> partitions = intValue(args, ++i, "--partitions", 1, 1000);
                case "--worker-port" -> workerPort = intValue(args, ++i, "--worker-port", 1, 65535);
                case "--workers" -> workers = intValue(args, ++i, "--workers", 0, 64);
                case "--checkpoints" -> checkpoints = value(args, ++i, "--checkpoints");
                case "--step-time" -> stepTime = value(args, ++i, "--step-time");
                case "--no-gateway" -> gateway = false;
                default -> throw new UsageException("unknown option '" + args[i] + "'\n" + USAGE);
            }
        }
        return new Settings(port, partitions, workers, workerPort, checkpoints, stepTime, gateway);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) throw new UsageException(option + " needs a value");
        return args[i];
    }

    private static int intValue(String[] args, int i, String option, int min, int max) {
        if (i >= args.length) throw new UsageException(option + " needs a value");
        try {
            int value = Integer.parseInt(args[i]);
            if (value < min || value > max) throw new UsageException(option + " must be in " + min + ".." + max + ", got " + value);
            return value;
        } catch (NumberFormatException e) {
            throw new UsageException(option + " needs a whole number, got '" + args[i] + "'");
        }
    }

    private static void requireFree(int port, String who, String option) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
        } catch (IOException e) {
            throw new IllegalStateException("port " + port + " (for " + who + ") is in use; stop what holds it, or choose another with " + option);
        }
    }

    private static Path createDataDir() {
        try {
            return Files.createTempDirectory("lethe-kafka");
        } catch (IOException e) {
            throw new IllegalStateException("cannot create a folder for Kafka's data: " + e.getMessage(), e);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("lethe: could not delete " + dir + ": " + e.getMessage());
        }
    }

    /** Every Lethe topic with its settings (compaction for the state topics); the worker would create them too. */
    private static void createTopics(String bootstrap, int partitions) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(Topics.newTopics(partitions, (short) 1)).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) throw new IllegalStateException("cannot create the topics: " + e.getCause(), e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot create the topics: " + e, e);
        }
    }

    /** The gateway's Spring Boot jar, if built: the one jar in gateway-service/target with a Main-Class. */
    private static Optional<Path> gatewayJar(Path home) {
        Path target = home.resolve("gateway-service/target");
        if (!Files.isDirectory(target)) return Optional.empty();
        try (Stream<Path> files = Files.list(target)) {
            return files.filter(p -> p.getFileName().toString().matches("gateway-service-.*\\.jar"))
                    .filter(p -> !p.getFileName().toString().matches(".*-(plain|sources|javadoc|tests)\\.jar"))
                    .filter(LocalBroker::runnable)
                    .findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static boolean runnable(Path jar) {
        try (JarFile file = new JarFile(jar.toFile())) {
            return file.getManifest() != null && file.getManifest().getMainAttributes().getValue("Main-Class") != null;
        } catch (IOException e) {
            return false;
        }
    }

    /** A worker in its own JVM, with this JVM's class path and flags; its output goes to this terminal. */
    private static ProcessBuilder workerCommand(List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xss4m",
                "-cp", System.getProperty("java.class.path"), WorkerApplication.class.getName()));
        command.addAll(args);
        return new ProcessBuilder(command).inheritIO();
    }

    private static ProcessBuilder gatewayCommand(Path jar, String bootstrap) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-jar");
        command.add(jar.toString());
        command.add("--spring.kafka.bootstrap-servers=" + bootstrap);
        return new ProcessBuilder(command).inheritIO();
    }
}
