package dev.lethe.engine.gpu;

import dev.lethe.engine.gguf.GgmlType;
import dev.lethe.engine.gguf.GgufFile;
import dev.lethe.engine.gguf.GgufTensorInfo;
import dev.lethe.engine.model.LayerWeights;
import dev.lethe.engine.model.Model;
import dev.lethe.engine.model.ModelConfig;
import dev.lethe.engine.model.ModelWeights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A model's weights uploaded once to the device, shared by every {@link GpuSequence} on it. Weight matrices
 * keep their GGUF storage type (F32, F16, BF16 or Q8_0) and are dequantized inside the kernels; norm weights
 * and biases are float32.
 */
public final class GpuModel implements AutoCloseable {
    private final GpuDevice device;
    private final ModelConfig config;
    private final DeviceMatrix embedding;
    private final GpuLayer[] layers;
    private final DeviceBuffer outputNorm;
    private final DeviceMatrix output;
    private final DeviceBuffer inverseFrequency;
    private final List<DeviceBuffer> owned;

    private GpuModel(GpuDevice device, ModelConfig config, DeviceMatrix embedding, GpuLayer[] layers, DeviceBuffer outputNorm,
                     DeviceMatrix output, float[] ropeFrequencyFactors, List<DeviceBuffer> owned) {
        this.device = device;
        this.config = config;
        this.embedding = embedding;
        this.layers = layers;
        this.outputNorm = outputNorm;
        this.output = output;
        this.owned = owned;
        this.inverseFrequency = DeviceBuffer.of(inverseFrequencies(config, ropeFrequencyFactors));
        owned.add(inverseFrequency);
    }

    /** RoPE's per-pair inverse frequencies, formed exactly as the CPU engine's {@code Rope} forms them. */
    static double[] inverseFrequencies(ModelConfig c, float[] factors) {
        double[] f = new double[c.headDim() / 2];
        for (int i = 0; i < f.length; i++) {
            double base = Math.pow(c.ropeTheta(), -2.0 * i / c.headDim());
            f[i] = factors == null ? base : base / factors[i];
        }
        return f;
    }

    /**
     * Uploads a loaded model: matrices as their GGUF bytes (llama.cpp tensor names), vectors as the CPU
     * engine read them.
     */
    public static GpuModel upload(GpuDevice device, Model model) {
        ModelConfig c = model.config();
        ModelWeights w = model.weights();
        GgufFile gguf = model.gguf();
        List<DeviceBuffer> owned = new ArrayList<>();
        try {
            DeviceMatrix embedding = matrix(gguf, "token_embd.weight", c.vocabularySize(), c.dim(), owned);
            GpuLayer[] layers = new GpuLayer[c.layers()];
            for (int l = 0; l < c.layers(); l++) {
                String p = "blk." + l + ".";
                LayerWeights lw = w.layers()[l];
                layers[l] = new GpuLayer(
                        vector(lw.attentionNorm(), owned),
                        matrix(gguf, p + "attn_q.weight", c.qDim(), c.dim(), owned),
                        matrix(gguf, p + "attn_k.weight", c.kvDim(), c.dim(), owned),
                        matrix(gguf, p + "attn_v.weight", c.kvDim(), c.dim(), owned),
                        matrix(gguf, p + "attn_output.weight", c.dim(), c.qDim(), owned),
                        vector(lw.qBias(), owned),
                        vector(lw.kBias(), owned),
                        vector(lw.vBias(), owned),
                        vector(lw.qNorm(), owned),
                        vector(lw.kNorm(), owned),
                        vector(lw.ffnNorm(), owned),
                        matrix(gguf, p + "ffn_gate.weight", c.ffnDim(), c.dim(), owned),
                        matrix(gguf, p + "ffn_up.weight", c.ffnDim(), c.dim(), owned),
                        matrix(gguf, p + "ffn_down.weight", c.dim(), c.ffnDim(), owned));
            }
            DeviceMatrix output = gguf.hasTensor("output.weight")
                    ? matrix(gguf, "output.weight", c.vocabularySize(), c.dim(), owned)
                    : embedding;
            return new GpuModel(device, c, embedding, layers, vector(w.outputNorm(), owned), output, w.ropeFreqFactors(), owned);
        } catch (RuntimeException e) {
            owned.forEach(DeviceBuffer::close);
            throw e;
        }
    }

    /**
     * A model of the given shape with random weights of the given type made on the device (nothing crosses
     * the bus), for benchmarks: uniform in ±sqrt(3/cols), so every projection keeps unit variance; norms 1.
     */
    public static GpuModel random(GpuDevice device, ModelConfig c, GgmlType type, long seed) {
        if (type != GgmlType.BF16 && type != GgmlType.F32) {
            throw new IllegalArgumentException("random weights are made as BF16 or F32, not " + type);
        }
        List<DeviceBuffer> owned = new ArrayList<>();
        long[] nextSeed = {seed};
        try {
            RandomMatrices r = (rows, cols) -> {
                DeviceBuffer b = DeviceBuffer.allocate(type.bytesFor((long) rows * cols));
                owned.add(b);
                device.kernels().fillRandom(b, type, nextSeed[0]++, (float) Math.sqrt(3.0 / cols));
                return new DeviceMatrix(b, type, rows, cols);
            };
            float[] ones = new float[Math.max(c.dim(), c.headDim())];
            Arrays.fill(ones, 1f);
            DeviceMatrix embedding = r.make(c.vocabularySize(), c.dim());
            GpuLayer[] layers = new GpuLayer[c.layers()];
            for (int l = 0; l < c.layers(); l++) {
                boolean bias = c.architecture().qkvBias();
                boolean qkNorm = c.architecture().qkNorm();
                layers[l] = new GpuLayer(
                        vector(Arrays.copyOf(ones, c.dim()), owned),
                        r.make(c.qDim(), c.dim()), r.make(c.kvDim(), c.dim()), r.make(c.kvDim(), c.dim()), r.make(c.dim(), c.qDim()),
                        bias ? vector(new float[c.qDim()], owned) : null,
                        bias ? vector(new float[c.kvDim()], owned) : null,
                        bias ? vector(new float[c.kvDim()], owned) : null,
                        qkNorm ? vector(Arrays.copyOf(ones, c.headDim()), owned) : null,
                        qkNorm ? vector(Arrays.copyOf(ones, c.headDim()), owned) : null,
                        vector(Arrays.copyOf(ones, c.dim()), owned),
                        r.make(c.ffnDim(), c.dim()), r.make(c.ffnDim(), c.dim()), r.make(c.dim(), c.ffnDim()));
            }
            DeviceMatrix output = r.make(c.vocabularySize(), c.dim());
            device.synchronize();
            return new GpuModel(device, c, embedding, layers, vector(Arrays.copyOf(ones, c.dim()), owned), output, null, owned);
        } catch (RuntimeException e) {
            owned.forEach(DeviceBuffer::close);
            throw e;
        }
    }

    private interface RandomMatrices {
        DeviceMatrix make(int rows, int cols);
    }

    private static DeviceMatrix matrix(GgufFile gguf, String name, int rows, int cols, List<DeviceBuffer> owned) {
        GgufTensorInfo t = gguf.tensor(name);
        if (!DeviceMatrix.supports(t.type())) {
            throw new IllegalArgumentException("tensor '" + name + "' has weight type " + t.type()
                    + ", which the GPU kernels do not read (F32, F16, BF16, Q8_0)");
        }
        DeviceBuffer b = DeviceBuffer.of(t.data().asSlice(0, t.type().bytesFor((long) rows * cols)));
        owned.add(b);
        return new DeviceMatrix(b, t.type(), rows, cols);
    }

    private static DeviceBuffer vector(float[] v, List<DeviceBuffer> owned) {
        if (v == null) return null;
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

    GpuLayer[] layers() {
        return layers;
    }

    DeviceBuffer outputNorm() {
        return outputNorm;
    }

    DeviceMatrix output() {
        return output;
    }

    DeviceBuffer inverseFrequency() {
        return inverseFrequency;
    }

    /** Bytes of weight matrices one decode step reads: every layer's, the output projection and one embedding row. */
    public long weightBytesPerToken() {
        long bytes = output.bytes() + embedding.type().bytesFor(config.dim());
        for (GpuLayer l : layers) bytes += l.matrixBytes();
        return bytes;
    }

    @Override
    public void close() {
        device.synchronize();
        owned.forEach(DeviceBuffer::close);
    }
}
