package dev.lethe.cli;

import dev.lethe.cache.bench.CacheBench;
import dev.lethe.engine.bench.PolicyOverheadBench;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Set;

/** {@code lethe bench-cache}: what KV policies cost per decode step, and checkpoint speed against the disk. */
final class BenchCacheCommand {
    static final String USAGE = """
            usage: lethe bench-cache [--tokens N] [--steps N] [--dir DIR]
              --tokens N   cached tokens when measuring (default 4096)
              --steps N    decode steps timed per policy (default 16)
              --dir DIR    where the random 1.1B-shaped Q8_0 model is cached (default bench/out)
            Prints (1) each policy's time per decode step of a real model next to the whole step, and (2) the
            lethe-cache bookkeeping and checkpoint encode/decode MB/s next to a plain write + fsync, in one run.
            """;

    private BenchCacheCommand() {}

    static int run(String[] args, PrintStream out) throws IOException {
        Options o = Options.parse(args, 1, Set.of("tokens", "steps", "dir"), Set.of());
        int tokens = o.getInt("tokens", 4096);
        int steps = o.getInt("steps", 16);
        if (tokens <= 0 || steps <= 0) throw new UsageException("--tokens and --steps must be positive");
        out.println("== policy time inside real decode steps (engine, TinyLlama-1.1B shape, Q8_0)");
        PolicyOverheadBench.run(Path.of(o.get("dir", "bench/out")), tokens, steps, out);
        out.println();
        out.println("== lethe-cache bookkeeping and checkpoint codec (Llama-8B KV shape: 32 layers x 8 KV heads x 128)");
        out.flush();
        CacheBench.main(new String[] {"--tokens", String.valueOf(tokens)});
        return 0;
    }
}
