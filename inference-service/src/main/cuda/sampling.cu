// Turning logits into a choice on the device, so that greedy decoding copies back one int, not the vocabulary.
#include "common.cuh"

// out[0] = the index of the largest of x[0..n) (the lowest index among equals). One block.
extern "C" __global__ void argmax(const float* x, int n, int* out) {
    int idx = block_argmax(x, n);
    if (threadIdx.x == 0) out[0] = idx;
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
