package dev.lethe.engine.gpu;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import jcuda.driver.CUevent;

/**
 * Where the time of batched decode steps goes (the benchmark's breakdown), over the next few steps a
 * {@link BatchDecoder} runs once given this profile. First {@code wallSteps} steps run as usual (graphs if the
 * decoder uses them), each alone: the host's enqueue time (from the step's start until its launches are
 * queued) and the wall time (until the device has finished it). Then {@code eventSteps} steps run their
 * launches one by one with a CUDA event recorded after each part, behind a kernel that holds the stream until
 * the whole step is queued, so the device time of each part is not stretched by waiting for the host.
 */
final class StepProfile implements AutoCloseable {
    /** The kernel classes of a step. */
    enum Part {
        UPLOAD("meta upload + block table"),
        EMBEDDING_ARGMAX("embedding + argmax"),
        PRODUCTS("products (tensor cores)"),
        QKV_ROPE_APPEND("qkv reduce + rope + append"),
        ATTENTION("attention (both launches)"),
        RESIDUAL_NORM("residual + rmsnorm"),
        SWIGLU("swiglu reduce");

        final String label;

        Part(String label) {
            this.label = label;
        }
    }

    /** The stream is held this long before an event-timed step: far longer than queuing a step's launches takes. */
    private static final long HOLD_NANOS = 30_000_000L;

    private final GpuDevice device;
    private int wallSteps, eventSteps;
    private final List<CUevent> events = new ArrayList<>();
    private final List<Part> marks = new ArrayList<>();
    private boolean timingParts;
    private long startNanos;
    private int wallDone, eventDone;
    private double hostMs, wallMs, gpuMs;
    private final Map<Part, Double> partMs = new EnumMap<>(Part.class);

    StepProfile(GpuDevice device, int wallSteps, int eventSteps) {
        if (wallSteps < 0 || eventSteps < 0 || wallSteps + eventSteps == 0) {
            throw new IllegalArgumentException("profile of " + wallSteps + " wall-timed and " + eventSteps + " event-timed steps");
        }
        this.device = device;
        this.wallSteps = wallSteps;
        this.eventSteps = eventSteps;
        for (Part p : Part.values()) partMs.put(p, 0.0);
    }

    /** Whether steps remain to be timed. */
    boolean active() {
        return wallSteps + eventSteps > 0;
    }

    /** Starts a step: true if this step times its parts (and must then queue its launches one by one, marking them). */
    boolean begin() {
        device.synchronize();
        timingParts = wallSteps == 0;
        if (timingParts) {
            device.kernels().spin(HOLD_NANOS);
            marks.clear();
            record(0);
        }
        startNanos = System.nanoTime();
        return timingParts;
    }

    /** The launches queued since the previous mark were of this part (no-op unless this step times its parts). */
    void mark(Part part) {
        if (!timingParts) return;
        marks.add(part);
        record(marks.size());
    }

    private void record(int index) {
        while (events.size() <= index) {
            CUevent e = new CUevent();
            cuEventCreate(e, 0);
            events.add(e);
        }
        cuEventRecord(events.get(index), device.stream());
    }

    /** Ends the step: waits for the device, then adds up this step's times. */
    void end() {
        double enqueued = (System.nanoTime() - startNanos) / 1e6;
        device.synchronize();
        double wall = (System.nanoTime() - startNanos) / 1e6;
        if (timingParts) {
            float[] ms = new float[1];
            for (int i = 0; i < marks.size(); i++) {
                cuEventElapsedTime(ms, events.get(i), events.get(i + 1));
                partMs.merge(marks.get(i), (double) ms[0], Double::sum);
            }
            cuEventElapsedTime(ms, events.get(0), events.get(marks.size()));
            gpuMs += ms[0];
            eventDone++;
            eventSteps--;
        } else {
            hostMs += enqueued;
            wallMs += wall;
            wallDone++;
            wallSteps--;
        }
        timingParts = false;
    }

    /** Mean device time of a part per event-timed step, in ms. */
    double partMs(Part part) {
        return eventDone == 0 ? Double.NaN : partMs.get(part) / eventDone;
    }

    /** Mean device time of a whole event-timed step (first event to last), in ms. */
    double gpuMs() {
        return eventDone == 0 ? Double.NaN : gpuMs / eventDone;
    }

    /** Mean host time to queue a wall-timed step, in ms. */
    double hostMs() {
        return wallDone == 0 ? Double.NaN : hostMs / wallDone;
    }

    /** Mean wall time of a wall-timed step run alone (queued, then waited for), in ms. */
    double wallMs() {
        return wallDone == 0 ? Double.NaN : wallMs / wallDone;
    }

    @Override
    public void close() {
        device.synchronize();
        events.forEach(e -> cuEventDestroy(e));
        events.clear();
    }
}
