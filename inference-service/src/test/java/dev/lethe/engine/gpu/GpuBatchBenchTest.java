package dev.lethe.engine.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.cache.KvLayout;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The batched benchmark's option parsing and its same-window comparison (host only). */
class GpuBatchBenchTest {
    @Test
    void letheSpecFromTheCommandLine() {
        var spec = GpuBatchBench.letheSpec("sparse-ratio=1.2, recent-ratio=0.5");
        assertEquals("lethe", spec.name());
        assertEquals(Map.of("sparse-ratio", "1.2", "recent-ratio", "0.5"), spec.parameters());
        assertTrue(GpuBatchBench.letheSpec("default").parameters().isEmpty());
        // the spec builds the policy lethe-cache defines, with the given values among its effective parameters
        BatchPolicy policy = BatchPolicy.lethe(spec, new KvLayout(2, 1, 4));
        assertTrue(policy.name().contains("sparse-ratio=1.2") && policy.name().contains("recent-ratio=0.5"), policy.name());
        assertEquals(null, policy.peakLength(), "admitted against current use, not a reserved peak");
        var bad = assertThrows(IllegalArgumentException.class, () -> GpuBatchBench.letheSpec("sparse-ratio:1.2"));
        assertTrue(bad.getMessage().contains("key=value"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GpuBatchBench.letheSpec("delta=1,delta=2"));
    }

    @Test
    void tokensAtInterpolatesTheTimelineAndExtrapolatesPastItsEnd() {
        List<double[]> timeline = List.of(new double[] {1, 100}, new double[] {3, 500});
        assertEquals(50, GpuBatchBench.tokensAt(timeline, 0.5, 0), 1e-9);
        assertEquals(300, GpuBatchBench.tokensAt(timeline, 2, 0), 1e-9);
        assertEquals(500, GpuBatchBench.tokensAt(timeline, 3, 0), 1e-9);
        assertEquals(4 * 150, GpuBatchBench.tokensAt(timeline, 4, 150), 1e-9);
    }
}
