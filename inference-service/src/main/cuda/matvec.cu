// Matrix-vector products against row-major weights: out[b][r] = sum_c W[r][c] * x[b][c] for up to
// MAX_BATCH input vectors per launch (decode is one; prefill chunks and batched decode share each weight
// load). One warp per row; each lane reads 8 consecutive weights at a time with one 16-byte load (bf16,
// f16), two (f32) or four 2-byte loads (q8_0, whose 34-byte blocks are only 2-byte aligned), UNROLL
// chunks in flight before the first use. Rows whose length is not a multiple of 8 take a scalar path.
#include "common.cuh"

#define MAX_BATCH 8
#define UNROLL 4

template <int TYPE>
__device__ __forceinline__ void load8(const uint8_t* row, int chunk, float (&f)[8]) {
    if (TYPE == TYPE_BF16 || TYPE == TYPE_F16) {
        uint4 raw = __ldg(reinterpret_cast<const uint4*>(row) + chunk);
        uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
        for (int j = 0; j < 4; j++) {
            if (TYPE == TYPE_BF16) {
                f[2 * j] = __uint_as_float(words[j] << 16);
                f[2 * j + 1] = __uint_as_float(words[j] & 0xffff0000u);
            } else {
                __half2 h = *reinterpret_cast<__half2*>(&words[j]);
                float2 v = __half22float2(h);
                f[2 * j] = v.x;
                f[2 * j + 1] = v.y;
            }
        }
    } else if (TYPE == TYPE_F32) {
        const float4* p = reinterpret_cast<const float4*>(row) + 2 * chunk;
        float4 a = __ldg(p), b = __ldg(p + 1);
        f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w;
        f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
    } else { // Q8_0: chunk = 8 weights, a quarter of one block
        const uint8_t* block = row + (chunk >> 2) * Q8_BYTES;
        float scale = __half2float(__ushort_as_half(__ldg(reinterpret_cast<const unsigned short*>(block))));
        const unsigned short* q = reinterpret_cast<const unsigned short*>(block + 2 + (chunk & 3) * 8);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            unsigned short two = __ldg(q + j);
            f[2 * j] = scale * (float)(int8_t)(two & 0xff);
            f[2 * j + 1] = scale * (float)(int8_t)(two >> 8);
        }
    }
}

// BATCH is the compile-time bound on n: 1 for decode (fewer registers, more warps in flight), MAX_BATCH else.
template <int TYPE, int BATCH>
__device__ __forceinline__ void matvec(const uint8_t* W, const float* x, float* out, int rows, int cols, int n) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const uint8_t* w = W + (long long)row * row_bytes(TYPE, cols);
    float acc[BATCH];
#pragma unroll
    for (int b = 0; b < BATCH; b++) acc[b] = 0.f;
    if ((cols & 7) == 0) {
        int chunks = cols >> 3;
        for (int c0 = lane; c0 < chunks; c0 += 32 * UNROLL) {
            float f[UNROLL][8];
#pragma unroll
            for (int u = 0; u < UNROLL; u++) {
                int c = c0 + 32 * u;
                if (c < chunks) load8<TYPE>(w, c, f[u]);
            }
#pragma unroll
            for (int u = 0; u < UNROLL; u++) {
                int c = c0 + 32 * u;
                if (c >= chunks) break;
#pragma unroll
                for (int b = 0; b < BATCH; b++) {
                    if (b >= n) break;
                    const float4* xv = reinterpret_cast<const float4*>(x + (long long)b * cols) + 2 * c;
                    float4 lo = __ldg(xv), hi = __ldg(xv + 1);
                    acc[b] += f[u][0] * lo.x + f[u][1] * lo.y + f[u][2] * lo.z + f[u][3] * lo.w
                            + f[u][4] * hi.x + f[u][5] * hi.y + f[u][6] * hi.z + f[u][7] * hi.w;
                }
            }
        }
    } else {
        for (int c = lane; c < cols; c += 32) {
            float wv = weight_at(w, TYPE, c);
#pragma unroll
            for (int b = 0; b < BATCH; b++) {
                if (b < n) acc[b] += wv * x[(long long)b * cols + c];
            }
        }
    }
#pragma unroll
    for (int b = 0; b < BATCH; b++) {
        if (b >= n) break;
        float s = warp_sum(acc[b]);
        if (lane == 0) out[(long long)b * rows + row] = s;
    }
}

#define MATVEC_KERNELS(NAME, TYPE)                                                                          \
    extern "C" __global__ void NAME(const uint8_t* W, const float* x, float* out, int rows, int cols, int n) {   \
        matvec<TYPE, MAX_BATCH>(W, x, out, rows, cols, n);                                                      \
    }                                                                                                           \
    extern "C" __global__ void NAME##_1(const uint8_t* W, const float* x, float* out, int rows, int cols, int n) { \
        matvec<TYPE, 1>(W, x, out, rows, cols, 1);                                                              \
    }

MATVEC_KERNELS(matvec_f32, TYPE_F32)
MATVEC_KERNELS(matvec_f16, TYPE_F16)
MATVEC_KERNELS(matvec_bf16, TYPE_BF16)
MATVEC_KERNELS(matvec_q8_0, TYPE_Q8_0)
