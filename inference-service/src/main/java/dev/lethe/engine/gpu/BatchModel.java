package dev.lethe.engine.gpu;

import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.model.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A model's weights laid out for batched decoding: per layer the q, k and v projections stacked into one
 * matrix and the gate and up projections into another, so a step runs four products per layer, each reading
 * its weights once for the whole batch. Llama-style models (no q/k/v biases, no q/k norms).
 */
public final class BatchModel implements AutoCloseable {
    /** One layer: norms as f32 vectors; wqkv is [qDim + 2 kvDim][dim], wGateUp [2 ffn][dim]. */
    record Layer(DeviceBuffer attentionNorm, DeviceMatrix wqkv, DeviceMatrix wo, DeviceBuffer ffnNorm, DeviceMatrix wGateUp, DeviceMatrix wDown) {
        long matrixBytes() {
            return wqkv.bytes() + wo.bytes() + wGateUp.bytes() + wDown.bytes();
        }
    }

    private final GpuDevice device;
    private final ModelConfig config;
    private final DeviceMatrix embedding, output;
    private final Layer[] layers;
    private final DeviceBuffer outputNorm, inverseFrequency;
    private final List<DeviceBuffer> owned;

    private BatchModel(GpuDevice device, ModelConfig config, DeviceMatrix embedding, Layer[] layers, DeviceBuffer outputNorm,
                       DeviceMatrix output, DeviceBuffer inverseFrequency, List<DeviceBuffer> owned) {
        this.device = device;
        this.config = config;
        this.embedding = embedding;
        this.layers = layers;
        this.outputNorm = outputNorm;
        this.output = output;
        this.inverseFrequency = inverseFrequency;
        this.owned = owned;
    }

    private static void requireLlamaStyle(ModelConfig c) {
        if (c.architecture().qkvBias() || c.architecture().qkNorm()) {
            throw new IllegalArgumentException("batched decoding supports llama-style layers; " + c.architecture()
                    + " has q/k/v biases or q/k norms");
        }
    }

    /** Stacks an uploaded model's projections into the batched layout (device-to-device copies; the model stays open). */
    public static BatchModel of(GpuModel model) {
        ModelConfig c = model.config();
        requireLlamaStyle(c);
        List<DeviceBuffer> owned = new ArrayList<>();
        try {
            Layer[] layers = new Layer[c.layers()];
            for (int l = 0; l < layers.length; l++) {
                GpuLayer g = model.layers()[l];
                layers[l] = new Layer(g.attentionNorm(), stack(owned, g.wq(), g.wk(), g.wv()), g.wo(), g.ffnNorm(),
                        stack(owned, g.wGate(), g.wUp()), g.wDown());
            }
            return new BatchModel(model.device(), c, model.embedding(), layers, model.outputNorm(), model.output(),
                    model.inverseFrequency(), owned);
        } catch (RuntimeException e) {
            owned.forEach(DeviceBuffer::close);
            throw e;
        }
    }

    private static DeviceMatrix stack(List<DeviceBuffer> owned, DeviceMatrix... parts) {
        long bytes = 0;
        int rows = 0;
        for (DeviceMatrix m : parts) {
            if (m.type() != parts[0].type() || m.cols() != parts[0].cols()) {
                throw new IllegalArgumentException("cannot stack " + m.type() + " " + m.cols() + "-column weights under " + parts[0].type()
                        + " " + parts[0].cols() + "-column ones");
            }
            bytes += m.bytes();
            rows += m.rows();
        }
        DeviceBuffer b = DeviceBuffer.allocate(bytes);
        owned.add(b);
        long at = 0;
        for (DeviceMatrix m : parts) {
            b.copyFrom(m.data(), 0, at, m.bytes());
            at += m.bytes();
        }
        return new DeviceMatrix(b, parts[0].type(), rows, parts[0].cols());
    }

    /**
     * Random BF16 weights made on the device (uniform in ±sqrt(3/cols), unit-variance projections; norms 1),
     * like vLLM's dummy weights: for benchmarks.
     */
    public static BatchModel random(GpuDevice device, ModelConfig c, long seed) {
        requireLlamaStyle(c);
        List<DeviceBuffer> owned = new ArrayList<>();
        long[] nextSeed = {seed};
        try {
            GpuModelRandom r = (rows, cols) -> {
                DeviceBuffer b = DeviceBuffer.allocate(GgmlType.BF16.bytesFor((long) rows * cols));
                owned.add(b);
                device.kernels().fillRandom(b, GgmlType.BF16, nextSeed[0]++, (float) Math.sqrt(3.0 / cols));
                return new DeviceMatrix(b, GgmlType.BF16, rows, cols);
            };
            float[] ones = new float[c.dim()];
            Arrays.fill(ones, 1f);
            DeviceMatrix embedding = r.make(c.vocabularySize(), c.dim());
            Layer[] layers = new Layer[c.layers()];
            for (int l = 0; l < layers.length; l++) {
                layers[l] = new Layer(vector(ones, owned), r.make(c.qDim() + 2 * c.kvDim(), c.dim()), r.make(c.dim(), c.qDim()),
                        vector(ones, owned), r.make(2 * c.ffnDim(), c.dim()), r.make(c.dim(), c.ffnDim()));
            }
            DeviceMatrix output = r.make(c.vocabularySize(), c.dim());
            DeviceBuffer frequencies = DeviceBuffer.of(GpuModel.inverseFrequencies(c, null));
            owned.add(frequencies);
            device.synchronize();
            return new BatchModel(device, c, embedding, layers, vector(ones, owned), output, frequencies, owned);
        } catch (RuntimeException e) {
            owned.forEach(DeviceBuffer::close);
            throw e;
        }
    }

    private interface GpuModelRandom {
        DeviceMatrix make(int rows, int cols);
    }

    private static DeviceBuffer vector(float[] v, List<DeviceBuffer> owned) {
        DeviceBuffer b = DeviceBuffer.of(v);
        owned.add(b);
        return b;
    }

    public GpuDevice device() {
        return device;
    }

    public ModelConfig config() {
        return config;
    }

    DeviceMatrix embedding() {
        return embedding;
    }

    DeviceMatrix output() {
        return output;
    }

    Layer[] layers() {
        return layers;
    }

    DeviceBuffer outputNorm() {
        return outputNorm;
    }

    DeviceBuffer inverseFrequency() {
        return inverseFrequency;
    }

    /**
     * Floats of the split-K partial sums a product of this model writes for {@code paddedRows} rows of X, at the
     * most: the output projection (one split) or any layer matrix under whichever kernel splits it most.
     */
    long partialFloats(int paddedRows) {
        long floats = (long) paddedRows * config.vocabularySize();
        for (Layer l : layers) {
            for (DeviceMatrix m : new DeviceMatrix[] {l.wqkv(), l.wo(), l.wGateUp(), l.wDown()}) {
                floats = Math.max(floats, (long) BatchKernels.maxSplits(m) * paddedRows * m.rows());
            }
        }
        return floats;
    }

    /** Weight bytes one batched step reads: every layer's matrices, the output projection, one embedding row per sequence. */
    public long weightBytesPerStep(int batch) {
        long bytes = output.bytes() + batch * embedding.type().bytesFor(config.dim());
        for (Layer l : layers) bytes += l.matrixBytes();
        return bytes;
    }

    @Override
    public void close() {
        device.synchronize();
        owned.forEach(DeviceBuffer::close);
    }
}
