package dev.lethe.worker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.errors.GroupIdNotFoundException;

/**
 * Lethe as separate processes on this machine, for the crash tests: a standalone Kafka broker ({@code lethe up
 * --workers 0}, its own JVM) and worker JVMs ({@link WorkerApplication}) that share a checkpoint folder. Workers
 * are stopped gracefully (SIGTERM), frozen (SIGSTOP) or killed ({@code kill -9}). Each process logs to a file in
 * the cluster's folder, kept when a test fails.
 */
final class LocalCluster implements AutoCloseable {
    private static final String GROUP = "lethe-workers";

    private final Path dir;
    private final int port;
    private final int partitions;
    private final Process broker;
    private final List<String> workerArgs;
    private final Map<String, Process> workers = new LinkedHashMap<>();

    private LocalCluster(Path dir, int port, int partitions, Process broker, List<String> workerArgs) {
        this.dir = dir;
        this.port = port;
        this.partitions = partitions;
        this.broker = broker;
        this.workerArgs = workerArgs;
    }

    /**
     * Starts the broker and waits until it is up with the topics created.
     *
     * @param workerArgs Spring arguments every worker gets (besides the broker, its id and the checkpoint folder)
     */
    static LocalCluster start(int partitions, List<String> workerArgs) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("lethe-cluster");
        int port = freePort();
        Path log = dir.resolve("broker.log");
        Process broker = java(List.of("dev.lethe.cli.LetheCli", "up", "--workers", "0", "--no-gateway", "--port",
                Integer.toString(port), "--partitions", Integer.toString(partitions)), log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!Files.readString(log).contains("Ctrl-C stops everything")) {
            if (!broker.isAlive() || System.nanoTime() > deadline) {
                broker.destroyForcibly();
                throw new IllegalStateException("the broker did not start:\n" + Files.readString(log));
            }
            Thread.sleep(200);
        }
        return new LocalCluster(dir, port, partitions, broker, workerArgs);
    }

    String bootstrap() {
        return "localhost:" + port;
    }

    Path checkpoints() {
        return dir.resolve("checkpoints");
    }

    Path dir() {
        return dir;
    }

    int partitions() {
        return partitions;
    }

    /** Starts a worker JVM named {@code id}; it joins the group some seconds later ({@link #awaitMembers}). */
    void startWorker(String id) throws IOException {
        // Class data of the first worker is archived and shared by the next ones: they start faster.
        List<String> args = new ArrayList<>(List.of("-Xmx320m", "-XX:+UseSerialGC", "-XX:+AutoCreateSharedArchive",
                "-XX:SharedArchiveFile=" + dir.resolve("worker.jsa"),
                WorkerApplication.class.getName(),
                "--spring.kafka.bootstrap-servers=" + bootstrap(),
                "--spring.kafka.client-id=" + id,
                "--lethe.worker.id=" + id,
                "--server.port=0",
                "--lethe.worker.topics.create=false",
                "--lethe.worker.model=" + Path.of(System.getProperty("lethe.shared.dir"), "models", "stories260K.gguf"),
                "--lethe.worker.checkpoints.store=" + checkpoints(),
                "--spring.kafka.consumer.properties.session.timeout.ms=3000",
                "--spring.kafka.consumer.properties.heartbeat.interval.ms=500",
                "--spring.main.banner-mode=off"));
        args.addAll(workerArgs);
        workers.put(id, java(args, dir.resolve(id + ".log")));
    }

    boolean alive(String id) {
        Process p = workers.get(id);
        return p != null && p.isAlive();
    }

    /** Waits until the group's members are exactly these workers, each with partitions of lethe.requests assigned. */
    void awaitMembers(Set<String> ids, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, Set<Integer>> seen = Map.of();
        while (System.nanoTime() < deadline) {
            seen = assignment();
            if (seen.keySet().equals(ids) && seen.values().stream().noneMatch(Set::isEmpty)
                    && seen.values().stream().mapToInt(Set::size).sum() == partitions) {
                return;
            }
            for (String id : ids) {
                if (workers.containsKey(id) && !workers.get(id).isAlive()) {
                    throw new IllegalStateException("worker " + id + " died:\n" + tail(id));
                }
            }
            Thread.sleep(250);
        }
        throw new AssertionError("group members " + seen + " are not " + ids + " after " + timeout);
    }

    /** Who owns which partitions of lethe.requests now, by worker id. */
    Map<String, Set<Integer>> assignment() throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap()))) {
            ConsumerGroupDescription group;
            try {
                group = admin.describeConsumerGroups(List.of(GROUP)).all().get().get(GROUP);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof GroupIdNotFoundException) return Map.of(); // no worker has joined yet
                throw e;
            }
            Map<String, Set<Integer>> owners = new LinkedHashMap<>();
            for (MemberDescription m : group.members()) {
                String id = workers.keySet().stream().filter(w -> m.clientId().startsWith(w + "-")).findFirst().orElse(m.clientId());
                owners.put(id, m.assignment().topicPartitions().stream().map(tp -> tp.partition()).collect(Collectors.toSet()));
            }
            return owners;
        }
    }

    /** SIGTERM: the worker hands its jobs over and exits. */
    void stop(String id) throws InterruptedException {
        Process p = workers.get(id);
        p.destroy();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("worker " + id + " did not stop within 60 s");
        }
    }

    /** SIGSTOP: the worker stops in its tracks, writing nothing more, until killed. */
    void freeze(String id) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-STOP", Long.toString(workers.get(id).pid())).inheritIO().start();
        if (kill.waitFor() != 0) throw new IllegalStateException("kill -STOP failed");
    }

    /** {@code kill -9}: no goodbye. */
    void kill(String id) throws InterruptedException {
        Process p = workers.get(id);
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
    }

    String tail(String id) {
        try {
            List<String> lines = Files.readAllLines(dir.resolve(id + ".log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Stops everything; keeps the folder (logs) when {@code keep}. */
    void close(boolean keep) {
        for (Process p : workers.values()) p.destroyForcibly();
        broker.destroy();
        try {
            if (!broker.waitFor(30, TimeUnit.SECONDS)) broker.destroyForcibly();
            for (Process p : workers.values()) p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!keep) {
            try (Stream<Path> paths = Files.walk(dir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @Override
    public void close() {
        close(false);
    }

    private static Process java(List<String> args, Path log) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xss4m",
                "-Dlethe.shared.dir=" + System.getProperty("lethe.shared.dir"), "-cp", System.getProperty("java.class.path")));
        command.addAll(args);
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
