// Batched decoding: one step for B sequences reads every weight once. Matrix products on the tensor cores
// (BF16 weights and activations, f32 accumulation) with split-K partial sums that the following fused kernel
// reduces (with the residual add and RMSNorm, with SwiGLU, or with RoPE and the KV append); attention over a
// paged KV pool with ragged per-sequence, per-layer lengths, which also updates Lethe's RASR scores.
//
// Paged pool: blocks of blockSize slots; a slot holds one token's keys (kvDim values, f32 or bf16) in the key
// pool, its values in the value pool and one float score. Block table: [seqSlot][layer][maxBlocks] block ids;
// slot s of (seq, layer) lives in block table[s / blockSize], row (block * blockSize + s % blockSize).
#include "common.cuh"
#include <mma.h>

using namespace nvcuda;

// ---- tensor-core matrix product: partial[split][b][r] = sum over the split's columns c of W[r][c] * X[b][c] ----

#define TC_M 128   // weight rows per block: 8 warps of 16
#define TC_K 64    // columns per pipeline stage: 128-byte weight rows
#define TC_LDS 72  // shared row stride in bf16 elements (144 bytes: 16-byte aligned, conflict-free for 8 rows)
#define TC_STAGES 3

__device__ __forceinline__ void cp_async16(void* smem, const void* global, int bytes) {
    unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(global), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// W: [rows][cols] bf16 row-major; X: [n][cols] bf16; n <= 16 * NT (rows of X past n read as zeros).
// grid: (rows / TC_M, splits); 256 threads; dynamic shared memory TC_STAGES * (TC_M + 16 NT) * TC_LDS * 2 bytes.
// partial: [splits][16 NT][rows] floats (columns past n are written too, as sums over zeros).
template <int NT>
__device__ __forceinline__ void gemm_tc(const __nv_bfloat16* W, const __nv_bfloat16* X, float* partial, int rows, int cols,
                                        int n, int chunksPerSplit) {
    extern __shared__ __align__(128) unsigned char smemRaw[];
    __nv_bfloat16* smem = reinterpret_cast<__nv_bfloat16*>(smemRaw);
    constexpr int N = 16 * NT;
    constexpr int stage = (TC_M + N) * TC_LDS;
    int row0 = blockIdx.x * TC_M;
    int split = blockIdx.y;
    int c0 = split * chunksPerSplit;
    int chunks = min(chunksPerSplit, cols / TC_K - c0);
    int warp = threadIdx.x >> 5;

    auto load = [&](int s, int chunk) {
        __nv_bfloat16* sW = smem + s * stage;
        __nv_bfloat16* sX = sW + TC_M * TC_LDS;
        long long k0 = (long long)chunk * TC_K;
        for (int i = threadIdx.x; i < TC_M * 8; i += blockDim.x) {
            int r = i >> 3, p = i & 7;
            cp_async16(sW + r * TC_LDS + p * 8, W + (long long)(row0 + r) * cols + k0 + p * 8, 16);
        }
        for (int i = threadIdx.x; i < N * 8; i += blockDim.x) {
            int r = i >> 3, p = i & 7;
            bool valid = r < n;
            cp_async16(sX + r * TC_LDS + p * 8, X + (valid ? (long long)r * cols + k0 + p * 8 : 0), valid ? 16 : 0);
        }
    };

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[NT];
#pragma unroll
    for (int j = 0; j < NT; j++) wmma::fill_fragment(acc[j], 0.f);
#pragma unroll
    for (int s = 0; s < TC_STAGES - 1; s++) {
        if (s < chunks) load(s, c0 + s);
        cp_async_commit();
    }
    for (int i = 0; i < chunks; i++) {
        cp_async_wait<TC_STAGES - 2>();
        __syncthreads(); // chunk i has landed for every thread, and every warp is done with chunk i-1's stage
        int next = i + TC_STAGES - 1;
        if (next < chunks) load(next % TC_STAGES, c0 + next);
        cp_async_commit();
        const __nv_bfloat16* sW = smem + (i % TC_STAGES) * stage;
        const __nv_bfloat16* sX = sW + TC_M * TC_LDS;
#pragma unroll
        for (int kk = 0; kk < TC_K; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
            wmma::load_matrix_sync(a, sW + warp * 16 * TC_LDS + kk, TC_LDS);
#pragma unroll
            for (int j = 0; j < NT; j++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
                wmma::load_matrix_sync(b, sX + j * 16 * TC_LDS + kk, TC_LDS);
                wmma::mma_sync(acc[j], a, b, acc[j]);
            }
        }
    }
    float* out = partial + (long long)split * N * rows;
#pragma unroll
    for (int j = 0; j < NT; j++) {
        wmma::store_matrix_sync(out + (long long)(j * 16) * rows + row0 + warp * 16, acc[j], rows, wmma::mem_col_major);
    }
}

#define GEMM_TC(NT)                                                                                                   \
    extern "C" __global__ void __launch_bounds__(256) gemm_bf16_tc_##NT(const __nv_bfloat16* W, const __nv_bfloat16* X, \
                                                                        float* partial, int rows, int cols, int n,    \
                                                                        int chunksPerSplit) {                         \
        gemm_tc<NT>(W, X, partial, rows, cols, n, chunksPerSplit);                                                    \
    }
GEMM_TC(1)
GEMM_TC(2)
GEMM_TC(3)
GEMM_TC(4)
GEMM_TC(5)
GEMM_TC(6)
GEMM_TC(7)
GEMM_TC(8)

// Second tensor-core product, for batches of 49 and more rows (where gemm_tc falls to 44% of the copy bandwidth
// at 64 rows and 26% at 128): there every warp loaded every activation fragment from shared memory for its one
// weight fragment, so shared-memory reads grew with the batch (NT + 1 fragment loads per NT products). Here a
// warp owns MF weight fragments and NF activation fragments and loads each once per 16 columns: MF + NF loads
// feed MF * NF products. The 8 warps stand 8 / WN along the weight rows and WN along the activation rows, so the
// block tile is M = (8 / WN) * 16 * MF weight rows by N = WN * 16 * NF activation rows. With MF = 2, WN = 1
// ("tall", M = 256) a block also reads each activation chunk from L2 once for twice the weight rows.
// Activation fragments at or past nPad (the partial's padded rows, a multiple of 16) are neither multiplied nor
// stored, so a tile wider than the batch costs only the idle warps' time.
// grid: (rows / M, splits); 256 threads; dynamic shared memory TC_STAGES * (M + min(N, nPad)) * TC_LDS * 2 bytes.
// partial: [splits][nPad][rows] floats.
template <int MF, int NF, int WN>
__device__ __forceinline__ void gemm_tc2(const __nv_bfloat16* W, const __nv_bfloat16* X, float* partial, int rows, int cols,
                                         int n, int nPad, int chunksPerSplit) {
    extern __shared__ __align__(128) unsigned char smemRaw[];
    __nv_bfloat16* smem = reinterpret_cast<__nv_bfloat16*>(smemRaw);
    constexpr int WM = 8 / WN;
    constexpr int M = WM * 16 * MF, N = WN * 16 * NF;
    int xRows = min(N, nPad); // activation rows a stage holds: the rest are never read
    int stage = (M + xRows) * TC_LDS;
    int row0 = blockIdx.x * M;
    int split = blockIdx.y;
    int c0 = split * chunksPerSplit;
    int chunks = min(chunksPerSplit, cols / TC_K - c0);
    int warp = threadIdx.x >> 5, wm = warp % WM, wn = warp / WM;

    auto load = [&](int s, int chunk) {
        __nv_bfloat16* sW = smem + s * stage;
        __nv_bfloat16* sX = sW + M * TC_LDS;
        long long k0 = (long long)chunk * TC_K;
        for (int i = threadIdx.x; i < M * 8; i += blockDim.x) {
            int r = i >> 3, p = i & 7;
            cp_async16(sW + r * TC_LDS + p * 8, W + (long long)(row0 + r) * cols + k0 + p * 8, 16);
        }
        for (int i = threadIdx.x; i < xRows * 8; i += blockDim.x) {
            int r = i >> 3, p = i & 7;
            bool valid = r < n;
            cp_async16(sX + r * TC_LDS + p * 8, X + (valid ? (long long)r * cols + k0 + p * 8 : 0), valid ? 16 : 0);
        }
    };

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[MF][NF];
#pragma unroll
    for (int i = 0; i < MF; i++) {
#pragma unroll
        for (int j = 0; j < NF; j++) wmma::fill_fragment(acc[i][j], 0.f);
    }
#pragma unroll
    for (int s = 0; s < TC_STAGES - 1; s++) {
        if (s < chunks) load(s, c0 + s);
        cp_async_commit();
    }
    for (int c = 0; c < chunks; c++) {
        cp_async_wait<TC_STAGES - 2>();
        __syncthreads(); // chunk c has landed for every thread, and every warp is done with chunk c-1's stage
        int next = c + TC_STAGES - 1;
        if (next < chunks) load(next % TC_STAGES, c0 + next);
        cp_async_commit();
        const __nv_bfloat16* sW = smem + (c % TC_STAGES) * stage + wm * MF * 16 * TC_LDS;
        const __nv_bfloat16* sX = smem + (c % TC_STAGES) * stage + M * TC_LDS + wn * NF * 16 * TC_LDS;
#pragma unroll
        for (int kk = 0; kk < TC_K; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a[MF];
#pragma unroll
            for (int i = 0; i < MF; i++) wmma::load_matrix_sync(a[i], sW + i * 16 * TC_LDS + kk, TC_LDS);
#pragma unroll
            for (int j = 0; j < NF; j++) {
                if ((wn * NF + j) * 16 < nPad) { // the same for the whole warp
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
                    wmma::load_matrix_sync(b, sX + j * 16 * TC_LDS + kk, TC_LDS);
#pragma unroll
                    for (int i = 0; i < MF; i++) wmma::mma_sync(acc[i][j], a[i], b, acc[i][j]);
                }
            }
        }
    }
    float* out = partial + (long long)split * nPad * rows;
#pragma unroll
    for (int j = 0; j < NF; j++) {
        int col = (wn * NF + j) * 16;
        if (col >= nPad) continue;
#pragma unroll
        for (int i = 0; i < MF; i++) {
            wmma::store_matrix_sync(out + (long long)col * rows + row0 + (wm * MF + i) * 16, acc[i][j], rows, wmma::mem_col_major);
        }
    }
}

// gemm_tall_<NF>: MF 2, WN 1 (256 weight rows by 16 NF activation rows; one block per multiprocessor);
// gemm_grid_<NF>: MF 2, WN 2 (128 weight rows by 32 NF activation rows; two blocks per multiprocessor).
#define GEMM_TC2(NAME, MF, NF, WN, MIN_BLOCKS)                                                                          \
    extern "C" __global__ void __launch_bounds__(256, MIN_BLOCKS) gemm_##NAME##_##NF(                                   \
        const __nv_bfloat16* W, const __nv_bfloat16* X, float* partial, int rows, int cols, int n, int nPad,            \
        int chunksPerSplit) {                                                                                           \
        gemm_tc2<MF, NF, WN>(W, X, partial, rows, cols, n, nPad, chunksPerSplit);                                       \
    }
GEMM_TC2(tall, 2, 1, 1, 1)
GEMM_TC2(tall, 2, 2, 1, 1)
GEMM_TC2(tall, 2, 3, 1, 1)
GEMM_TC2(tall, 2, 4, 1, 1)
GEMM_TC2(tall, 2, 5, 1, 1)
GEMM_TC2(tall, 2, 6, 1, 1)
GEMM_TC2(tall, 2, 7, 1, 1)
GEMM_TC2(tall, 2, 8, 1, 1)
GEMM_TC2(grid, 2, 1, 2, 2)
GEMM_TC2(grid, 2, 2, 2, 2)
GEMM_TC2(grid, 2, 3, 2, 2)
GEMM_TC2(grid, 2, 4, 2, 2)

// Sum of the split-K partials of output (b, r): partial is [splits][nPad][rows].
__device__ __forceinline__ float reduce_splits(const float* partial, int splits, int nPad, int rows, int b, int r) {
    float s = 0.f;
    for (int j = 0; j < splits; j++) s += partial[((long long)j * nPad + b) * rows + r];
    return s;
}

// ---- the fused kernels between the products ----

// x[b] += sum of the partials (unless partial is null), then xn[b] = weight * x[b] / rms(x[b]), as f32 and bf16.
// grid: B rows, one block per row; a thread owns the float4s threadIdx.x + k * blockDim.x (k < NORM_VECTORS) of the
// row and keeps them in registers between the two phases. The split partials of a float4 are loaded NORM_UNROLL
// at a time before any is added, so a thread has that many 16-byte loads in flight (one row's bytes, the
// residual and every split, come through one multiprocessor). dim: a multiple of 4, <= 4 * NORM_VECTORS * blockDim.
#define NORM_VECTORS 4
#define NORM_UNROLL 8
extern "C" __global__ void __launch_bounds__(1024) residual_norm(const float* partial, int splits, int nPad, float* x, const float* weight,
                                         float* xn, __nv_bfloat16* xn16, int dim, float eps) {
    __shared__ float scratch[32];
    int b = blockIdx.x, vectors = dim / 4;
    float4* xr = reinterpret_cast<float4*>(x + (long long)b * dim);
    const float4* w4 = reinterpret_cast<const float4*>(weight);
    float4 v[NORM_VECTORS], w[NORM_VECTORS];
    float ss = 0.f;
#pragma unroll
    for (int k = 0; k < NORM_VECTORS; k++) {
        int i = threadIdx.x + k * blockDim.x;
        if (i >= vectors) break;
        w[k] = w4[i]; // used after the reduction: loaded now so that its latency hides behind the partials'
        v[k] = xr[i];
        if (partial != nullptr) {
            float4 s = make_float4(0.f, 0.f, 0.f, 0.f);
            const float4* p = reinterpret_cast<const float4*>(partial + (long long)b * dim) + i;
            long long splitStride = (long long)nPad * dim / 4;
            for (int j0 = 0; j0 < splits; j0 += NORM_UNROLL) {
                float4 loaded[NORM_UNROLL];
#pragma unroll
                for (int j = 0; j < NORM_UNROLL; j++) {
                    if (j0 + j < splits) loaded[j] = p[(j0 + j) * splitStride];
                }
#pragma unroll
                for (int j = 0; j < NORM_UNROLL; j++) {
                    if (j0 + j < splits) {
                        s.x += loaded[j].x; s.y += loaded[j].y; s.z += loaded[j].z; s.w += loaded[j].w;
                    }
                }
            }
            v[k].x += s.x; v[k].y += s.y; v[k].z += s.z; v[k].w += s.w;
            xr[i] = v[k];
        }
        ss += v[k].x * v[k].x + v[k].y * v[k].y + v[k].z * v[k].z + v[k].w * v[k].w;
    }
    ss = block_sum(ss, scratch);
    float scale = 1.f / sqrtf(ss / dim + eps);
    float4* out = reinterpret_cast<float4*>(xn + (long long)b * dim);
    __nv_bfloat162* out16 = reinterpret_cast<__nv_bfloat162*>(xn16 + (long long)b * dim);
#pragma unroll
    for (int k = 0; k < NORM_VECTORS; k++) {
        int i = threadIdx.x + k * blockDim.x;
        if (i >= vectors) break;
        float4 y = make_float4(w[k].x * (scale * v[k].x), w[k].y * (scale * v[k].y), w[k].z * (scale * v[k].z),
                               w[k].w * (scale * v[k].w));
        out[i] = y;
        out16[2 * i] = __floats2bfloat162_rn(y.x, y.y);
        out16[2 * i + 1] = __floats2bfloat162_rn(y.z, y.w);
    }
}

// h[b][i] = silu(gate) * up with gate, up the reduced outputs i and ffn + i of the fused gate/up product; a thread
// takes four neighbouring i, with 16-byte loads. ffn: a multiple of 4.
extern "C" __global__ void swiglu_reduce(const float* partial, int splits, int nPad, int ffn, float* h, __nv_bfloat16* h16, int n) {
    int quarter = ffn / 4;
    long long count = (long long)n * quarter, splitStride = (long long)nPad * 2 * ffn / 4;
    const float4* p4 = reinterpret_cast<const float4*>(partial);
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x) {
        int b = (int)(e / quarter), i = (int)(e % quarter);
        const float4* gate = p4 + (long long)b * 2 * quarter + i;
        float g[4] = {0.f, 0.f, 0.f, 0.f}, u[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll 4
        for (int j = 0; j < splits; j++) {
            float4 a = gate[j * splitStride], c = gate[j * splitStride + quarter];
            g[0] += a.x; g[1] += a.y; g[2] += a.z; g[3] += a.w;
            u[0] += c.x; u[1] += c.y; u[2] += c.z; u[3] += c.w;
        }
        float y[4];
#pragma unroll
        for (int j = 0; j < 4; j++) y[j] = g[j] / (1.f + expf(-g[j])) * u[j];
        reinterpret_cast<float4*>(h)[e] = make_float4(y[0], y[1], y[2], y[3]);
        reinterpret_cast<__nv_bfloat162*>(h16)[2 * e] = __floats2bfloat162_rn(y[0], y[1]);
        reinterpret_cast<__nv_bfloat162*>(h16)[2 * e + 1] = __floats2bfloat162_rn(y[2], y[3]);
    }
}

__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }

__device__ __forceinline__ long long pool_row(const int* blockTable, int maxBlocks, int layers, int seq, int layer, int slot, int blockSize) {
    int block = blockTable[((long long)seq * layers + layer) * maxBlocks + slot / blockSize];
    return (long long)block * blockSize + slot % blockSize;
}

// Reduces the fused q|k|v product, rotates q and k (RoPE at each row's position, angle in double as the CPU
// engine forms it) and appends k and v to the pool at slot lengths[b][layer] - 1 (the length after this step's
// append); that slot's score starts at 0. grid: (B, heads + kvHeads); block h < heads writes q head h.
template <typename KV>
__device__ __forceinline__ void qkv_rope_append(const float* partial, int splits, int nPad, float* q, KV* keys, KV* values,
                                                float* scores, const int* seqSlot, const int* positions, const int* lengths,
                                                const int* blockTable, int maxBlocks, int layers, int layer, int heads,
                                                int kvHeads, int headDim, int blockSize, const double* inverseFrequency, int neox) {
    int b = blockIdx.x, h = blockIdx.y;
    int qDim = heads * headDim, kvDim = kvHeads * headDim, rows = qDim + 2 * kvDim, half = headDim / 2;
    double position = (double)positions[b];
    int base = h < heads ? h * headDim : qDim + (h - heads) * headDim;
    float rotated[2];
    long long row = 0;
    if (h >= heads) {
        int slot = lengths[b * layers + layer] - 1;
        row = pool_row(blockTable, maxBlocks, layers, seqSlot[b], layer, slot, blockSize);
    }
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        int a = neox ? i : 2 * i;
        int c = neox ? i + half : 2 * i + 1;
        float x0 = reduce_splits(partial, splits, nPad, rows, b, base + a);
        float x1 = reduce_splits(partial, splits, nPad, rows, b, base + c);
        double angle = position * inverseFrequency[i];
        float co = (float)cos(angle), si = (float)sin(angle);
        rotated[0] = x0 * co - x1 * si;
        rotated[1] = x0 * si + x1 * co;
        if (h < heads) {
            float* out = q + (long long)b * qDim + h * headDim;
            out[a] = rotated[0];
            out[c] = rotated[1];
        } else {
            KV* out = keys + row * kvDim + (h - heads) * headDim;
            store(out + a, rotated[0]);
            store(out + c, rotated[1]);
        }
    }
    if (h >= heads) {
        KV* out = values + row * kvDim + (h - heads) * headDim;
        for (int i = threadIdx.x; i < headDim; i += blockDim.x) {
            store(out + i, reduce_splits(partial, splits, nPad, rows, b, base + kvDim + i));
        }
        if (h == heads && threadIdx.x == 0 && scores != nullptr) scores[row] = 0.f;
    }
}

// ---- paged attention: one query per sequence, split over the slots ("flash decoding") ----
//
// Decode attention reads every key and value of the batch once per layer and does little arithmetic with them, so
// its speed is how many bytes each thread has in flight: both phases below issue several independent 16-byte loads
// per thread before using any of them, and a block serves all query heads of one KV head so each row is read once.

#define ATT_WARPS 4    // warps of a paged attention block
#define KEY_LANES 4    // lanes reading one key row together: each 16-byte load of the four is 64 contiguous bytes
#define KEY_UNROLL 2   // key rows each group of KEY_LANES lanes has in flight
#define VALUE_LANES 16 // lanes reading one value row: lane j owns dimensions 8j..8j+7 of the head
#define VALUE_UNROLL 4 // value rows each group of VALUE_LANES lanes has in flight
#define MAX_CHUNKS 16  // 8-dimension chunks of a head: headDim <= 128

// Eight elements of a key or value row, as loaded (unconverted, so a thread can hold many in flight cheaply).
template <typename KV>
struct Raw8;
template <>
struct Raw8<float> {
    float4 lo, hi;
};
template <>
struct Raw8<__nv_bfloat16> {
    uint4 bits;
};

__device__ __forceinline__ void load_raw(const float* p, Raw8<float>& r) {
    r.lo = __ldg(reinterpret_cast<const float4*>(p));
    r.hi = __ldg(reinterpret_cast<const float4*>(p) + 1);
}
__device__ __forceinline__ void load_raw(const __nv_bfloat16* p, Raw8<__nv_bfloat16>& r) {
    r.bits = __ldg(reinterpret_cast<const uint4*>(p));
}
__device__ __forceinline__ void zero_raw(Raw8<float>& r) {
    r.lo = r.hi = make_float4(0.f, 0.f, 0.f, 0.f);
}
__device__ __forceinline__ void zero_raw(Raw8<__nv_bfloat16>& r) {
    r.bits = make_uint4(0u, 0u, 0u, 0u);
}
__device__ __forceinline__ void unpack(const Raw8<float>& r, float (&f)[8]) {
    f[0] = r.lo.x; f[1] = r.lo.y; f[2] = r.lo.z; f[3] = r.lo.w;
    f[4] = r.hi.x; f[5] = r.hi.y; f[6] = r.hi.z; f[7] = r.hi.w;
}
__device__ __forceinline__ void unpack(const Raw8<__nv_bfloat16>& r, float (&f)[8]) {
    uint32_t w[4] = {r.bits.x, r.bits.y, r.bits.z, r.bits.w};
#pragma unroll
    for (int j = 0; j < 4; j++) {
        f[2 * j] = __uint_as_float(w[j] << 16);
        f[2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
    }
}

// Split attention of one query per sequence over its paged cache for one layer. grid: (kvHeads, B, splits), ATT_WARPS
// warps; a block serves the G = heads / kvHeads <= GM query heads of one KV head over slots [s0, s0 + slotsPerSplit)
// of its sequence, and does nothing if the sequence is shorter than s0 (attention_paged_finish reads only the splits
// that hold slots). Scores: KEY_LANES lanes per key row, each 8-dimension chunk one 16-byte load, KEY_UNROLL rows per
// lane group in flight, the partial dot products summed over the group with shuffles. Values: VALUE_LANES lanes per
// row, VALUE_UNROLL rows in flight, the rows' weighted sums added over the block at the end. Per (query head, split)
// it writes the split's max m, sum l of exps and unnormalised output o, and, if expScores is not null,
// exp(score - m) of each slot at expScores[b][h][slot] (row stride scoreStride) for the score update.
// Dynamic shared memory: (G * (headDim + slotsPerSplit + ATT_WARPS * headDim) + slotsPerSplit) * 4 bytes.
// headDim: a multiple of 8, <= 128; slotsPerSplit: a multiple of 4.
template <typename KV, int GM>
__device__ __forceinline__ void attention_paged(const float* q, const KV* keys, const KV* values, const int* seqSlot,
                                                const int* lengths, const int* blockTable, int maxBlocks, int layers, int layer,
                                                int heads, int kvHeads, int headDim, int blockSize, float scale, int slotsPerSplit,
                                                float* partialOut, float* partialMax, float* partialSum, float* expScores,
                                                int scoreStride) {
    extern __shared__ float4 sharedVectors[];
    int kvh = blockIdx.x, b = blockIdx.y, split = blockIdx.z, splits = gridDim.z;
    int len = lengths[b * layers + layer];
    int s0 = split * slotsPerSplit;
    if (s0 >= len) return;
    int count = min(slotsPerSplit, len - s0);
    int G = heads / kvHeads, kvDim = kvHeads * headDim, chunks = headDim / 8;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float* sq = reinterpret_cast<float*>(sharedVectors); // [G][headDim]
    float* se = sq + G * headDim;                        // [G][slotsPerSplit]
    float* red = se + G * slotsPerSplit;                 // [ATT_WARPS][G][headDim]
    int* srow = reinterpret_cast<int*>(red + ATT_WARPS * G * headDim); // [slotsPerSplit] pool row of each slot
    const float* qb = q + ((long long)b * heads + kvh * G) * headDim;
    for (int i = threadIdx.x; i < G * headDim; i += blockDim.x) sq[i] = qb[i];
    const int* table = blockTable + ((long long)seqSlot[b] * layers + layer) * maxBlocks;
    for (int t = threadIdx.x; t < count; t += blockDim.x) {
        int s = s0 + t;
        srow[t] = table[s / blockSize] * blockSize + s % blockSize;
    }
    __syncthreads();

    // scores: lane group `group` of this warp takes rows t0 + (u * ATT_WARPS + warp) * 8 + group, u < KEY_UNROLL
    {
        constexpr int GROUPS = 32 / KEY_LANES, CHUNKS_PER_LANE = MAX_CHUNKS / KEY_LANES;
        int group = lane / KEY_LANES, part = lane % KEY_LANES;
        for (int t0 = 0; t0 < count; t0 += ATT_WARPS * GROUPS * KEY_UNROLL) {
            Raw8<KV> raw[KEY_UNROLL][CHUNKS_PER_LANE];
            int t[KEY_UNROLL];
#pragma unroll
            for (int u = 0; u < KEY_UNROLL; u++) {
                t[u] = t0 + (u * ATT_WARPS + warp) * GROUPS + group;
                const KV* k = keys + (long long)srow[min(t[u], count - 1)] * kvDim + kvh * headDim;
#pragma unroll
                for (int c = 0; c < CHUNKS_PER_LANE; c++) {
                    int chunk = c * KEY_LANES + part;
                    if (t[u] < count && chunk < chunks) load_raw(k + chunk * 8, raw[u][c]);
                    else zero_raw(raw[u][c]);
                }
            }
            float d[KEY_UNROLL][GM];
#pragma unroll
            for (int u = 0; u < KEY_UNROLL; u++) {
#pragma unroll
                for (int g = 0; g < GM; g++) d[u][g] = 0.f;
            }
#pragma unroll
            for (int c = 0; c < CHUNKS_PER_LANE; c++) {
                int chunk = c * KEY_LANES + part;
                if (chunk < chunks) {
                    float kf[KEY_UNROLL][8];
#pragma unroll
                    for (int u = 0; u < KEY_UNROLL; u++) unpack(raw[u][c], kf[u]);
#pragma unroll
                    for (int g = 0; g < GM; g++) {
                        if (g < G) {
                            const float4* qv = reinterpret_cast<const float4*>(sq + g * headDim + chunk * 8);
                            float4 qa = qv[0], qc = qv[1];
                            float qf[8] = {qa.x, qa.y, qa.z, qa.w, qc.x, qc.y, qc.z, qc.w};
#pragma unroll
                            for (int u = 0; u < KEY_UNROLL; u++) {
#pragma unroll
                                for (int j = 0; j < 8; j++) d[u][g] += qf[j] * kf[u][j];
                            }
                        }
                    }
                }
            }
#pragma unroll
            for (int u = 0; u < KEY_UNROLL; u++) {
#pragma unroll
                for (int g = 0; g < GM; g++) {
#pragma unroll
                    for (int o = 1; o < KEY_LANES; o <<= 1) d[u][g] += __shfl_xor_sync(0xffffffffu, d[u][g], o);
                    if (part == 0 && g < G && t[u] < count) se[g * slotsPerSplit + t[u]] = d[u][g] * scale;
                }
            }
        }
    }
    __syncthreads();

    for (int g = warp; g < G; g += ATT_WARPS) {
        float* e = se + g * slotsPerSplit;
        float m = -INFINITY;
        for (int s = lane; s < count; s += 32) m = fmaxf(m, e[s]);
        m = warp_max(m);
        float l = 0.f;
        for (int s = lane; s < count; s += 32) {
            float v = expf(e[s] - m);
            e[s] = v;
            l += v;
        }
        l = warp_sum(l);
        long long pair = (long long)b * heads + kvh * G + g;
        if (lane == 0) {
            partialMax[pair * splits + split] = m;
            partialSum[pair * splits + split] = l;
        }
        if (expScores != nullptr) {
            for (int s = lane; s < count; s += 32) expScores[pair * scoreStride + s0 + s] = e[s];
        }
    }
    __syncthreads();

    // values: row group `row` (two per warp) takes rows t0 + u * ROWS + row, u < VALUE_UNROLL
    constexpr int ROWS = ATT_WARPS * 32 / VALUE_LANES;
    int part = lane % VALUE_LANES, row = warp * (32 / VALUE_LANES) + lane / VALUE_LANES;
    bool owns = part < chunks;
    float acc[GM][8];
#pragma unroll
    for (int g = 0; g < GM; g++) {
#pragma unroll
        for (int j = 0; j < 8; j++) acc[g][j] = 0.f;
    }
    for (int t0 = 0; t0 < count; t0 += ROWS * VALUE_UNROLL) {
        Raw8<KV> raw[VALUE_UNROLL];
#pragma unroll
        for (int u = 0; u < VALUE_UNROLL; u++) {
            int t = t0 + u * ROWS + row;
            if (owns && t < count) load_raw(values + (long long)srow[t] * kvDim + kvh * headDim + part * 8, raw[u]);
            else zero_raw(raw[u]);
        }
#pragma unroll
        for (int u = 0; u < VALUE_UNROLL; u++) {
            int t = t0 + u * ROWS + row;
            if (t < count) {
                float vf[8];
                unpack(raw[u], vf);
#pragma unroll
                for (int g = 0; g < GM; g++) {
                    if (g < G) {
                        float p = se[g * slotsPerSplit + t];
#pragma unroll
                        for (int j = 0; j < 8; j++) acc[g][j] += p * vf[j];
                    }
                }
            }
        }
    }
    // the warp's two row groups, then the warps
#pragma unroll
    for (int g = 0; g < GM; g++) {
#pragma unroll
        for (int j = 0; j < 8; j++) {
#pragma unroll
            for (int o = VALUE_LANES; o < 32; o <<= 1) acc[g][j] += __shfl_xor_sync(0xffffffffu, acc[g][j], o);
        }
    }
    if (lane < VALUE_LANES && owns) {
#pragma unroll
        for (int g = 0; g < GM; g++) {
            if (g < G) {
                float4* r = reinterpret_cast<float4*>(red + (warp * G + g) * headDim + part * 8);
                r[0] = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
                r[1] = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
            }
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < G * headDim; e += blockDim.x) {
        int g = e / headDim, i = e % headDim;
        float o = 0.f;
#pragma unroll
        for (int w = 0; w < ATT_WARPS; w++) o += red[(w * G + g) * headDim + i];
        long long pair = (long long)b * heads + kvh * G + g;
        partialOut[(pair * splits + split) * headDim + i] = o;
    }
}

#define FINISH_THREADS 128 // threads of attention_paged_finish: headDim <= this

// Combines the splits: blocks y < heads write the output of head y (f32 and bf16); blocks y >= heads (present
// only when scoring) update the scores of split y - heads: S[slot] = gamma * S[slot] + sum over heads of the
// slot's probability (Lethe's RASR with a_t summed over query heads). Only the splits that hold slots of the
// sequence are read. grid: (B, heads [+ splits]), FINISH_THREADS threads.
extern "C" __global__ void __launch_bounds__(FINISH_THREADS) attention_paged_finish(
    const float* partialOut, const float* partialMax, const float* partialSum, float* out, __nv_bfloat16* out16,
    const float* expScores, int scoreStride, float* scores, float gamma, const int* seqSlot, const int* lengths,
    const int* blockTable, int maxBlocks, int layers, int layer, int heads, int headDim, int blockSize, int splits,
    int slotsPerSplit) {
    __shared__ float weight[FINISH_THREADS]; // heads' factors, or one chunk of splits' weights
    __shared__ float totals[2];
    int b = blockIdx.x, y = blockIdx.y;
    int len = lengths[b * layers + layer];
    int used = (len + slotsPerSplit - 1) / slotsPerSplit;
    if (y < heads) {
        long long pair = (long long)b * heads + y;
        const float* m = partialMax + pair * splits;
        if (threadIdx.x < 32) {
            SplitTotals t = warp_split_totals(m, partialSum + pair * splits, used);
            if (threadIdx.x == 0) {
                totals[0] = t.max;
                totals[1] = 1.f / t.sum;
            }
        }
        __syncthreads();
        float M = totals[0], inv = totals[1];
        float o = 0.f;
        const float* po = partialOut + pair * splits * headDim + threadIdx.x;
        for (int j0 = 0; j0 < used; j0 += FINISH_THREADS) {
            int j = j0 + threadIdx.x, chunk = min(FINISH_THREADS, used - j0);
            if (j < used) weight[threadIdx.x] = expf(m[j] - M) * inv;
            __syncthreads();
            if (threadIdx.x < headDim) {
#pragma unroll 8
                for (int k = 0; k < chunk; k++) o += weight[k] * po[(long long)(j0 + k) * headDim];
            }
            __syncthreads();
        }
        if (threadIdx.x < headDim) {
            out[pair * headDim + threadIdx.x] = o;
            out16[pair * headDim + threadIdx.x] = __float2bfloat16(o);
        }
        return;
    }
    int split = y - heads;
    if (split >= used) return;
    int s0 = split * slotsPerSplit, s1 = min(s0 + slotsPerSplit, len);
    for (int h = threadIdx.x; h < heads; h += blockDim.x) {
        long long pair = (long long)b * heads + h;
        SplitTotals t = split_totals(partialMax + pair * splits, partialSum + pair * splits, used);
        weight[h] = expf(partialMax[pair * splits + split] - t.max) / t.sum;
    }
    __syncthreads();
    int seq = seqSlot[b];
    for (int s = s0 + threadIdx.x; s < s1; s += blockDim.x) {
        float mass = 0.f;
#pragma unroll 8
        for (int h = 0; h < heads; h++) mass += expScores[((long long)b * heads + h) * scoreStride + s] * weight[h];
        long long row = pool_row(blockTable, maxBlocks, layers, seq, layer, s, blockSize);
        scores[row] = gamma * scores[row] + mass;
    }
}

#define QKV_KERNEL(SUFFIX, KV)                                                                                             \
    extern "C" __global__ void qkv_rope_append_##SUFFIX(                                                                   \
        const float* partial, int splits, int nPad, float* q, KV* keys, KV* values, float* scores, const int* seqSlot,      \
        const int* positions, const int* lengths, const int* blockTable, int maxBlocks, int layers, int layer, int heads,   \
        int kvHeads, int headDim, int blockSize, const double* inverseFrequency, int neox) {                                \
        qkv_rope_append<KV>(partial, splits, nPad, q, keys, values, scores, seqSlot, positions, lengths, blockTable,        \
                            maxBlocks, layers, layer, heads, kvHeads, headDim, blockSize, inverseFrequency, neox);          \
    }
QKV_KERNEL(f32, float)
QKV_KERNEL(bf16, __nv_bfloat16)

// attention_paged_<kv type>_g<GM>: GM the most query heads per KV head the kernel takes (1, 2, 4 or 8), so that
// the accumulators of smaller groups stay in few registers.
#define ATTENTION_KERNEL(SUFFIX, KV, GM)                                                                                   \
    extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32) attention_paged_##SUFFIX##_g##GM(                         \
        const float* q, const KV* keys, const KV* values, const int* seqSlot, const int* lengths, const int* blockTable,   \
        int maxBlocks, int layers, int layer, int heads, int kvHeads, int headDim, int blockSize, float scale,              \
        int slotsPerSplit, float* partialOut, float* partialMax, float* partialSum, float* expScores, int scoreStride) {   \
        attention_paged<KV, GM>(q, keys, values, seqSlot, lengths, blockTable, maxBlocks, layers, layer, heads, kvHeads,    \
                                headDim, blockSize, scale, slotsPerSplit, partialOut, partialMax, partialSum, expScores,    \
                                scoreStride);                                                                              \
    }
ATTENTION_KERNEL(f32, float, 1)
ATTENTION_KERNEL(f32, float, 2)
ATTENTION_KERNEL(f32, float, 4)
ATTENTION_KERNEL(f32, float, 8)
ATTENTION_KERNEL(bf16, __nv_bfloat16, 1)
ATTENTION_KERNEL(bf16, __nv_bfloat16, 2)
ATTENTION_KERNEL(bf16, __nv_bfloat16, 4)
ATTENTION_KERNEL(bf16, __nv_bfloat16, 8)

// x[b] = embedding row of token inputTokens[b], or of the token last sampled for sequence slot seqSlot[b] where
// inputTokens[b] < 0 (generated tokens never leave the device). grid: B.
extern "C" __global__ void embedding_batch(const uint8_t* table, int type, const int* inputTokens, const int* seqSlot,
                                           const int* lastToken, float* x, int dim) {
    int t = inputTokens[blockIdx.x];
    if (t < 0) t = lastToken[seqSlot[blockIdx.x]];
    long long base = (long long)t * dim;
    float* out = x + (long long)blockIdx.x * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) out[i] = weight_at(table, type, base + i);
}

// Greedy choice per row of logits ([B][vocab]): lastToken[seqSlot[b]] and chosen[b]. grid: B, 1024 threads.
extern "C" __global__ void argmax_rows(const float* logits, int vocab, const int* seqSlot, int* lastToken, int* chosen) {
    int idx = block_argmax(logits + (long long)blockIdx.x * vocab, vocab);
    if (threadIdx.x == 0) {
        lastToken[seqSlot[blockIdx.x]] = idx;
        chosen[blockIdx.x] = idx;
    }
}

// dst row dstIndex[i] = src row srcIndex[i] (an index array that is null means the identity), rows of `words`
// 4-byte words: pool compaction goes through a scratch area, gathering the kept slots and scattering them back.
extern "C" __global__ void move_rows(const uint32_t* src, uint32_t* dst, const int* srcIndex, const int* dstIndex, int count, int words) {
    long long total = (long long)count * words;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        int r = (int)(e / words), w = (int)(e % words);
        long long si = srcIndex != nullptr ? srcIndex[r] : r;
        long long di = dstIndex != nullptr ? dstIndex[r] : r;
        dst[di * words + w] = src[si * words + w];
    }
}

// table[index[i]] = value[i]: the block-table entries that changed since the last step.
extern "C" __global__ void scatter_ints(int* table, const int* index, const int* value, int count) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += gridDim.x * blockDim.x) table[index[i]] = value[i];
}
