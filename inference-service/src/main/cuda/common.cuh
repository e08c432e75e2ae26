// Shared helpers of Lethe's CUDA kernels: ggml weight types and block-wide reductions.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

// ggml_type ids, as in dev.lethe.engine.gguf.GgmlType.
#define TYPE_F32 0
#define TYPE_F16 1
#define TYPE_Q8_0 8
#define TYPE_BF16 30

// Q8_0: blocks of 32 weights, an fp16 scale followed by 32 signed bytes.
#define Q8_BLOCK 32
#define Q8_BYTES 34

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block, returned to every thread. scratch holds 32 floats; the leading barrier lets
// consecutive calls reuse it.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_sum(lane < warps ? scratch[lane] : 0.f);
        if (lane == 0) scratch[0] = v;
    }
    __syncthreads();
    return scratch[0];
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_max(lane < warps ? scratch[lane] : -INFINITY);
        if (lane == 0) scratch[0] = v;
    }
    __syncthreads();
    return scratch[0];
}

// Index of the largest of x[0..n) over the whole block (the lowest index among equals; 0x7fffffff if n is 0),
// valid in thread 0. Every thread of the block must call it.
__device__ __forceinline__ int block_argmax(const float* x, int n) {
    __shared__ float bestValue[32];
    __shared__ int bestIndex[32];
    float v = -INFINITY;
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        if (x[i] > v) { v = x[i]; idx = i; }
    }
    auto warp_best = [&]() {
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, v, o);
            int oi = __shfl_xor_sync(0xffffffffu, idx, o);
            if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
        }
    };
    warp_best();
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    if (lane == 0) { bestValue[warp] = v; bestIndex[warp] = idx; }
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? bestValue[lane] : -INFINITY;
        idx = lane < warps ? bestIndex[lane] : 0x7fffffff;
        warp_best();
    }
    return idx;
}

// Split attention ("flash decoding") keeps, per split j of a (query, head) pair, the split's max score m_j, its
// sum of exps l_j = sum e^(s - m_j) and its unnormalised output o_j = sum e^(s - m_j) v_s. Combined over the
// splits: M = max_j m_j and L = sum_j l_j e^(m_j - M); the output is sum_j o_j e^(m_j - M) / L, and a slot of
// split j has probability e^(s - m_j) e^(m_j - M) / L. A split with no slots has m_j = -inf and l_j = 0.
struct SplitTotals {
    float max, sum;
};

__device__ __forceinline__ SplitTotals split_totals(const float* m, const float* l, int splits) {
    float M = -INFINITY;
    for (int j = 0; j < splits; j++) M = fmaxf(M, m[j]);
    float L = 0.f;
    for (int j = 0; j < splits; j++) L += l[j] * expf(m[j] - M);
    return {M, L};
}

// The same totals, computed by one whole warp (every lane gets them): lanes take every 32nd split.
__device__ __forceinline__ SplitTotals warp_split_totals(const float* m, const float* l, int splits) {
    int lane = threadIdx.x & 31;
    float M = -INFINITY;
    for (int j = lane; j < splits; j += 32) M = fmaxf(M, m[j]);
    M = warp_max(M);
    float L = 0.f;
    for (int j = lane; j < splits; j += 32) L += l[j] * expf(m[j] - M);
    return {M, warp_sum(L)};
}

// Dimension i of the combined output, before the division by L; o holds the pair's o_j, headDim floats apart.
__device__ __forceinline__ float combine_splits(const float* o, const float* m, int splits, float M, int headDim, int i) {
    float sum = 0.f;
    for (int j = 0; j < splits; j++) sum += o[(long long)j * headDim + i] * expf(m[j] - M);
    return sum;
}

__device__ __forceinline__ float bf16_bits_to_float(uint32_t bits16) {
    return __uint_as_float(bits16 << 16);
}

// Weight element i of a row-major tensor of the given type, dequantized (slow path: one element).
__device__ __forceinline__ float weight_at(const uint8_t* w, int type, long long i) {
    switch (type) {
        case TYPE_F32: return reinterpret_cast<const float*>(w)[i];
        case TYPE_F16: return __half2float(reinterpret_cast<const __half*>(w)[i]);
        case TYPE_BF16: return bf16_bits_to_float(reinterpret_cast<const uint16_t*>(w)[i]);
        case TYPE_Q8_0: {
            const uint8_t* block = w + (i / Q8_BLOCK) * Q8_BYTES;
            float scale = __half2float(*reinterpret_cast<const __half*>(block));
            return scale * static_cast<float>(static_cast<int8_t>(block[2 + i % Q8_BLOCK]));
        }
        default: return NAN; // the host only launches with the types above
    }
}

// Bytes of one row of cols weights.
__device__ __forceinline__ long long row_bytes(int type, int cols) {
    switch (type) {
        case TYPE_F32: return 4LL * cols;
        case TYPE_Q8_0: return (long long)(cols / Q8_BLOCK) * Q8_BYTES;
        default: return 2LL * cols;
    }
}
