// Turning logits into a choice on the device, so that greedy decoding copies back one int, not the vocabulary.
#include "common.cuh"

// out[0] = the index of the largest of x[0..n) (the lowest index among equals). One block.
extern "C" __global__ void argmax(const float* x, int n, int* out) {
    __shared__ float bestValue[32];
    __shared__ int bestIndex[32];
    float v = -INFINITY;
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        if (x[i] > v) { v = x[i]; idx = i; }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, v, o);
        int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    if (lane == 0) { bestValue[warp] = v; bestIndex[warp] = idx; }
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? bestValue[lane] : -INFINITY;
        idx = lane < warps ? bestIndex[lane] : 0x7fffffff;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, v, o);
            int oi = __shfl_xor_sync(0xffffffffu, idx, o);
            if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
        }
        if (lane == 0) out[0] = idx;
    }
}

// x[r] = softmax(x[r] / temperature) for each row r of n floats, in place. grid: rows.
extern "C" __global__ void softmax(float* x, int n, float temperature) {
    __shared__ float scratch[32];
    float* row = x + (long long)blockIdx.x * n;
    float inverseT = 1.f / temperature;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, row[i] * inverseT);
    m = block_max(m, scratch);
    float sum = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float e = expf(row[i] * inverseT - m);
        row[i] = e;
        sum += e;
    }
    float inv = 1.f / block_sum(sum, scratch);
    for (int i = threadIdx.x; i < n; i += blockDim.x) row[i] *= inv;
}
