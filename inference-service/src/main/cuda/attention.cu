// Attention of a chunk of n queries over one layer's cache, the softmax probabilities kept for the
// eviction policy, and the compaction that follows a pruning round.
#include "common.cuh"

// Split attention ("flash decoding"): a decode step has few (query, head) pairs, so the slots are split too,
// each split reducing its own slots, and a second kernel combining the splits.
//
// q: [n][heads*headDim] (rotated); K, V: [slots][kvHeads*headDim], slot-major; the chunk's own keys are
// the last n of the `length` slots, so query t sees slots 0 .. length-n+t. GQA: query head h reads KV head
// h / (heads/kvHeads). Each key and value is read once: a warp per slot computes its score into probs,
// which then holds exp(score - split max). Per split j the block writes its max m_j, its sum l_j of exps
// and its unnormalised output o_j to the workspace: [(t*heads + h)*splits + j] (o_j: headDim floats each).
// grid: (heads, n, splits). Dynamic shared memory: headDim floats (the query) + blockDim floats.
extern "C" __global__ void attention_split(const float* q, const float* K, const float* V, float* probs,
                                           float* partialOut, float* partialMax, float* partialSum,
                                           int n, int heads, int kvHeads, int headDim, int length, float scale,
                                           int slotsPerSplit) {
    extern __shared__ float shared[];
    __shared__ float scratch[32];
    float* sq = shared;
    float* partial = shared + headDim;
    int h = blockIdx.x, t = blockIdx.y, split = blockIdx.z, splits = gridDim.z;
    int kvh = h / (heads / kvHeads);
    int kvStride = kvHeads * headDim;
    int visible = length - n + 1 + t;
    int s0 = split * slotsPerSplit;
    int s1 = min(s0 + slotsPerSplit, visible);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    long long pair = (long long)t * heads + h;
    const float* qh = q + pair * headDim;
    float* p = probs + pair * length;
    long long slot = pair * splits + split;

    for (int i = threadIdx.x; i < headDim; i += blockDim.x) sq[i] = qh[i];
    __syncthreads();

    float localMax = -INFINITY;
    for (int s = s0 + warp; s < s1; s += warps) {
        const float* k = K + (long long)s * kvStride + (long long)kvh * headDim;
        float d = 0.f;
        for (int i = lane; i < headDim; i += 32) d += sq[i] * k[i];
        d = warp_sum(d) * scale;
        if (lane == 0) p[s] = d;
        localMax = fmaxf(localMax, d);
    }
    float max = block_max(localMax, scratch); // its barriers also publish the scores written above

    float localSum = 0.f;
    for (int s = s0 + threadIdx.x; s < s1; s += blockDim.x) {
        float e = expf(p[s] - max);
        p[s] = e;
        localSum += e;
    }
    float sum = block_sum(localSum, scratch);

    // Weighted values: thread (group g, dim i) sums slots s0+g, s0+g+groups, ...; the groups are then added.
    int groups = blockDim.x / headDim;
    int g = threadIdx.x / headDim, i = threadIdx.x % headDim;
    // Four independent accumulators keep four value loads in flight instead of one dependent chain.
    float acc0 = 0.f, acc1 = 0.f, acc2 = 0.f, acc3 = 0.f;
    if (g < groups) {
        const float* vh = V + (long long)kvh * headDim + i;
        int s = s0 + g;
        for (; s + 3 * groups < s1; s += 4 * groups) {
            acc0 += p[s] * vh[(long long)s * kvStride];
            acc1 += p[s + groups] * vh[(long long)(s + groups) * kvStride];
            acc2 += p[s + 2 * groups] * vh[(long long)(s + 2 * groups) * kvStride];
            acc3 += p[s + 3 * groups] * vh[(long long)(s + 3 * groups) * kvStride];
        }
        for (; s < s1; s += groups) acc0 += p[s] * vh[(long long)s * kvStride];
    }
    partial[threadIdx.x] = (acc0 + acc1) + (acc2 + acc3);
    __syncthreads();
    if (threadIdx.x < headDim) {
        float o = 0.f;
        for (int j = 0; j < groups; j++) o += partial[j * headDim + threadIdx.x];
        partialOut[slot * headDim + threadIdx.x] = o;
    }
    if (threadIdx.x == 0) {
        partialMax[slot] = max; // -inf for a split past the visible slots, whose sum is 0
        partialSum[slot] = sum;
    }
}

// Combines the splits of attention_split (see split_totals in common.cuh) into the output, and turns probs into
// normalised probabilities (each split's exps scaled by e^(m_j - M) / L; masked slots 0).
// grid: (heads, n).
extern "C" __global__ void attention_combine(float* probs, const float* partialOut, const float* partialMax,
                                             const float* partialSum, float* out, int n, int heads, int headDim,
                                             int length, int splits, int slotsPerSplit) {
    int h = blockIdx.x, t = blockIdx.y;
    long long pair = (long long)t * heads + h;
    const float* m = partialMax + pair * splits;
    SplitTotals totals = split_totals(m, partialSum + pair * splits, splits);
    float M = totals.max, inv = 1.f / totals.sum;
    for (int i = threadIdx.x; i < headDim; i += blockDim.x) {
        out[pair * headDim + i] = combine_splits(partialOut + pair * splits * headDim, m, splits, M, headDim, i) * inv;
    }
    int visible = length - n + 1 + t;
    float* p = probs + pair * length;
    for (int s = threadIdx.x; s < length; s += blockDim.x) {
        p[s] = s < visible ? p[s] * expf(m[s / slotsPerSplit] - M) * inv : 0.f;
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
