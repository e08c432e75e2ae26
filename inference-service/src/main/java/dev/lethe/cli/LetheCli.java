package dev.lethe.cli;

import dev.lethe.engine.bench.CpuBench;
import dev.lethe.engine.gguf.GgufFormatException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * {@code ./lethe}: one entry point, one subcommand per job. Every expected failure (bad option, bad model
 * file, bad parameter) ends with a one-line message naming the problem and a non-zero exit code; a stack
 * trace is printed only for a bug, and only with {@code LETHE_DEBUG=1}.
 */
public final class LetheCli {
    private static final String USAGE = """
            usage: lethe <command> [options]
            commands:
              generate    stream a completion of a prompt (lethe generate --help)
              bench-quality  perplexity and greedy agreement of each KV policy against the full cache
              bench-cpu   CPU decode speed against this machine's memory bandwidth
              bench-cache    KV policy time per decode step; checkpoint speed against the disk
              bench-checkpoint  checkpoint size, store MB/s, resume against recompute latency (1K, 4K, 16K tokens)
              up          a local Kafka broker, the worker and the gateway, until Ctrl-C (lethe up --help)
              bench-e2e   the gateway's added token latency under 1,000 SSE clients (lethe bench-e2e --help)
              help        this text
            """;

    private LetheCli() {}

    public static void main(String[] args) {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
        System.exit(run(args, out, err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            if (args.length == 0 || args[0].equals("help") || args[0].equals("--help")) {
                out.print(USAGE);
                out.flush();
                return args.length == 0 ? 2 : 0;
            }
            if (args.length > 1 && (args[1].equals("--help") || args[1].equals("-h"))) {
                out.print(usageOf(args[0]));
                out.flush();
                return 0;
            }
            return switch (args[0]) {
                case "generate" -> GenerateCommand.run(args, out, err);
                case "bench-quality" -> BenchQualityCommand.run(args, out, err);
                case "bench-cache" -> BenchCacheCommand.run(args, out);
                case "bench-checkpoint" -> BenchCheckpointCommand.run(args, out);
                case "bench-cpu" -> {
                    CpuBench.run(java.util.Arrays.copyOfRange(args, 1, args.length), out);
                    yield 0;
                }
                case "up" -> dev.lethe.worker.dev.LocalBroker.up(args, out, err);
                case "bench-e2e" -> dev.lethe.worker.dev.BenchE2eCommand.run(args, out, err);
                default -> throw new UsageException("unknown command '" + args[0] + "'\n" + USAGE);
            };
        } catch (java.io.IOException e) {
            err.println("lethe: " + e.getMessage());
            return 1;
        } catch (UsageException e) {
            err.println("lethe: " + e.getMessage());
            return 2;
        } catch (GgufFormatException e) {
            err.println("lethe: bad model file: " + e.getMessage());
            return 1;
        } catch (IllegalArgumentException | IllegalStateException e) {
            err.println("lethe: " + e.getMessage());
            return 1;
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            err.println("lethe: internal error: " + e + (debug() ? "" : " (set LETHE_DEBUG=1 for the stack trace)"));
            if (debug()) e.printStackTrace(err);
            return 3;
        } finally {
            out.flush();
        }
    }

    private static String usageOf(String command) {
        return switch (command) {
            case "generate" -> GenerateCommand.USAGE;
            case "bench-quality" -> BenchQualityCommand.USAGE;
            case "bench-cache" -> BenchCacheCommand.USAGE;
            case "bench-checkpoint" -> BenchCheckpointCommand.USAGE;
            case "up" -> dev.lethe.worker.dev.LocalBroker.USAGE;
            case "bench-e2e" -> dev.lethe.worker.dev.BenchE2eCommand.USAGE;
            default -> USAGE;
        };
    }

    private static boolean debug() {
        return "1".equals(System.getenv("LETHE_DEBUG"));
    }
}
