package dev.lethe.engine.gpu;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;

/**
 * The launches of a batched decode step recorded once as a CUDA graph and replayed with one call: through
 * JCuda each kernel launch costs ~9 µs of host time, a graph launch costs one such call for the whole step.
 * A graph bakes in every launch's arguments and grid, so it is kept per {@link Key} (what the host passes that
 * changes between steps; everything else the kernels read from device memory the step uploads first), in a
 * small least-recently-used set: evicted graphs are destroyed.
 */
final class StepGraphs implements AutoCloseable {
    /**
     * What changes a step's launches: the batch size (grids, buffer offsets), the RASR decay (a kernel argument;
     * negative when not scoring) and the attention length each layer's grid is sized for (a bucket, so that a
     * graph serves many steps: see {@link BatchDecoder}).
     */
    record Key(int n, float gamma, int[] attentionLengths) {
        /** Copies the lengths: a key in the cache must not change when the caller reuses its array. */
        Key {
            attentionLengths = attentionLengths.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && n == k.n && Float.floatToIntBits(gamma) == Float.floatToIntBits(k.gamma)
                    && Arrays.equals(attentionLengths, k.attentionLengths);
        }

        @Override
        public int hashCode() {
            return 31 * (31 * n + Float.floatToIntBits(gamma)) + Arrays.hashCode(attentionLengths);
        }

        @Override
        public String toString() {
            return "n " + n + ", gamma " + gamma + ", attention lengths " + Arrays.toString(attentionLengths);
        }
    }

    private final CUstream stream;
    private final int capacity;
    private final LinkedHashMap<Key, CUgraphExec> graphs = new LinkedHashMap<>(16, 0.75f, true);
    private long captures, replays, evictions;

    StepGraphs(CUstream stream, int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("graph cache of " + capacity + " entries");
        this.stream = stream;
        this.capacity = capacity;
    }

    /**
     * Launches the step's graph for this key, first recording {@code launches} into it (without running them)
     * if the key is new. {@code launches} must only queue kernels on the stream: a synchronous copy or any use
     * of the legacy stream fails the capture.
     */
    void launch(Key key, Runnable launches) {
        CUgraphExec exec = graphs.get(key);
        if (exec == null) {
            exec = capture(launches);
            graphs.put(key, exec);
            captures++;
            if (graphs.size() > capacity) {
                Iterator<Map.Entry<Key, CUgraphExec>> eldest = graphs.entrySet().iterator();
                cuGraphExecDestroy(eldest.next().getValue());
                eldest.remove();
                evictions++;
            }
        } else {
            replays++;
        }
        cuGraphLaunch(exec, stream);
    }

    private CUgraphExec capture(Runnable launches) {
        CUgraph graph = new CUgraph();
        // global mode: any unsafe call during the capture, from any thread, fails instead of being recorded wrongly
        cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL);
        try {
            launches.run();
        } catch (RuntimeException e) {
            try {
                cuStreamEndCapture(stream, graph); // leaves the stream usable; a failed capture yields no graph
            } catch (RuntimeException end) {
                e.addSuppressed(end);
            }
            throw e;
        }
        cuStreamEndCapture(stream, graph);
        try {
            CUgraphExec exec = new CUgraphExec();
            cuGraphInstantiate(exec, graph, 0);
            return exec;
        } finally {
            cuGraphDestroy(graph);
        }
    }

    /** Graphs recorded, replayed (launches of a recorded graph) and destroyed to stay within the capacity. */
    long captures() {
        return captures;
    }

    long replays() {
        return replays;
    }

    long evictions() {
        return evictions;
    }

    int size() {
        return graphs.size();
    }

    @Override
    public void close() {
        graphs.values().forEach(exec -> cuGraphExecDestroy(exec));
        graphs.clear();
    }
}
