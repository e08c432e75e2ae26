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
