package dev.lethe.engine.gpu;

import dev.lethe.cache.KvCache;
import dev.lethe.engine.model.Model;

/** A loaded model's GPU side for the CLI and the worker: device 0 opened and the weights uploaded. */
public final class GpuBackend implements AutoCloseable {
    private final GpuDevice device;
    private final GpuModel model;

    private GpuBackend(GpuDevice device, GpuModel model) {
        this.device = device;
        this.model = model;
    }

    /** Opens device 0 and uploads the model; {@link GpuUnavailableException} says why when it cannot. */
    public static GpuBackend load(Model model) {
        GpuDevice device = GpuDevice.open(0);
        try {
            return new GpuBackend(device, GpuModel.upload(device, model));
        } catch (RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /** A sequence decoding on the GPU whose pruning {@code cache} decides (it then owns and closes the cache). */
    public GpuSequence newSequence(KvCache cache) {
        return GpuSequence.mirroring(model, cache);
    }

    public String deviceName() {
        return device.name();
    }

    @Override
    public void close() {
        model.close();
        device.close();
    }
}
