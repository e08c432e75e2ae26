package dev.lethe.engine.gpu;

/**
 * One transformer block's weights on the device (see {@link dev.lethe.engine.model.LayerWeights}). Norm
 * weights and biases are float32 vectors; the biases (qwen2) and q/k norms (qwen3) are null where the
 * architecture has none.
 */
record GpuLayer(
        DeviceBuffer attentionNorm,
        DeviceMatrix wq,
        DeviceMatrix wk,
        DeviceMatrix wv,
        DeviceMatrix wo,
        DeviceBuffer qBias,
        DeviceBuffer kBias,
        DeviceBuffer vBias,
        DeviceBuffer qNorm,
        DeviceBuffer kNorm,
        DeviceBuffer ffnNorm,
        DeviceMatrix wGate,
        DeviceMatrix wUp,
        DeviceMatrix wDown) {

    long matrixBytes() {
        return wq.bytes() + wk.bytes() + wv.bytes() + wo.bytes() + wGate.bytes() + wUp.bytes() + wDown.bytes();
    }
}
