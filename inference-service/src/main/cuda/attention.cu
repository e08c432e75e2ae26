// Attention of a chunk of n queries over one layer's cache, the softmax probabilities kept for the
// eviction policy, and the compaction that follows a pruning round.
#include "common.cuh"

// q: [n][heads*headDim] (rotated); K, V: [slots][kvHeads*headDim], slot-major; the chunk's own keys are
// the last n of the `length` slots, so query t sees slots 0 .. length-n+t. Writes the probabilities to
// probs[(t*heads + h)*length + s] (masked slots 0) and the weighted values to out. One block per
// (query head, query); GQA: query head h reads KV head h / (heads/kvHeads). Each key is read once: a warp
// per slot computes its score into probs, which then holds exp, then the normalised probability.
// Dynamic shared memory: headDim floats (the query) + blockDim floats (partial outputs).
extern "C" __global__ void attention(const float* q, const float* K, const float* V, float* probs, float* out,
                                     int n, int heads, int kvHeads, int headDim, int length, float scale) {
    extern __shared__ float shared[];
    __shared__ float scratch[32];
    float* sq = shared;
    float* partial = shared + headDim;
    int h = blockIdx.x, t = blockIdx.y;
    int kvh = h / (heads / kvHeads);
    int kvStride = kvHeads * headDim;
    int visible = length - n + 1 + t;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const float* qh = q + ((long long)t * heads + h) * headDim;
    float* p = probs + ((long long)t * heads + h) * length;

    for (int i = threadIdx.x; i < headDim; i += blockDim.x) sq[i] = qh[i];
    __syncthreads();

    float localMax = -INFINITY;
    for (int s = warp; s < visible; s += warps) {
        const float* k = K + (long long)s * kvStride + (long long)kvh * headDim;
        float d = 0.f;
        for (int i = lane; i < headDim; i += 32) d += sq[i] * k[i];
        d = warp_sum(d) * scale;
        if (lane == 0) p[s] = d;
        localMax = fmaxf(localMax, d);
    }
    float max = block_max(localMax, scratch); // its barriers also publish the scores written above

    float localSum = 0.f;
    for (int s = threadIdx.x; s < visible; s += blockDim.x) {
        float e = expf(p[s] - max);
        p[s] = e;
        localSum += e;
    }
    float inv = 1.f / block_sum(localSum, scratch);
    for (int s = threadIdx.x; s < length; s += blockDim.x) p[s] = s < visible ? p[s] * inv : 0.f;
    __syncthreads();

    // Weighted values: thread (group g, dim i) sums slots g, g+groups, ...; the groups are then added.
    int groups = blockDim.x / headDim;
    int g = threadIdx.x / headDim, i = threadIdx.x % headDim;
    float acc = 0.f;
    if (g < groups) {
        for (int s = g; s < visible; s += groups) acc += p[s] * V[(long long)s * kvStride + (long long)kvh * headDim + i];
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.x < headDim) {
        float sum = 0.f;
        for (int j = 0; j < groups; j++) sum += partial[j * headDim + threadIdx.x];
        out[((long long)t * heads + h) * headDim + threadIdx.x] = sum;
    }
}

// dst[i][0..width) = src[index[i]][0..width): gathers the survivors of a pruning round. grid-stride.
extern "C" __global__ void gather_rows(const float* src, float* dst, const int* index, int count, int width) {
    long long total = (long long)count * width;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        long long row = e / width;
        dst[e] = src[(long long)index[row] * width + e % width];
    }
}
