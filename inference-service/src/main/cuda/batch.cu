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

// Sum of the split-K partials of output (b, r): partial is [splits][nPad][rows].
__device__ __forceinline__ float reduce_splits(const float* partial, int splits, int nPad, int rows, int b, int r) {
    float s = 0.f;
    for (int j = 0; j < splits; j++) s += partial[((long long)j * nPad + b) * rows + r];
    return s;
}

// ---- the fused kernels between the products ----

// x[b] += sum of the partials (unless partial is null), then xn[b] = weight * x[b] / rms(x[b]), as f32 and bf16.
// grid: B rows.
extern "C" __global__ void residual_norm(const float* partial, int splits, int nPad, float* x, const float* weight,
                                         float* xn, __nv_bfloat16* xn16, int dim, float eps) {
    __shared__ float scratch[32];
    int b = blockIdx.x;
    float* xr = x + (long long)b * dim;
    float ss = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = xr[i];
        if (partial != nullptr) {
            v += reduce_splits(partial, splits, nPad, dim, b, i);
            xr[i] = v;
        }
        ss += v * v;
    }
    ss = block_sum(ss, scratch);
    float scale = 1.f / sqrtf(ss / dim + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float y = weight[i] * (scale * xr[i]);
        xn[(long long)b * dim + i] = y;
        xn16[(long long)b * dim + i] = __float2bfloat16(y);
    }
}

// h[b][i] = silu(gate) * up with gate, up the reduced outputs i and ffn + i of the fused gate/up product.
extern "C" __global__ void swiglu_reduce(const float* partial, int splits, int nPad, int ffn, float* h, __nv_bfloat16* h16, int n) {
    long long count = (long long)n * ffn;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x) {
        int b = (int)(e / ffn), i = (int)(e % ffn);
        float g = reduce_splits(partial, splits, nPad, 2 * ffn, b, i);
        float u = reduce_splits(partial, splits, nPad, 2 * ffn, b, ffn + i);
        float y = g / (1.f + expf(-g)) * u;
        h[e] = y;
        h16[e] = __float2bfloat16(y);
    }
}

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
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

#define MAX_GROUP 8 // query heads per KV head that the paged attention handles
#define MAX_DIMS_PER_LANE 4 // head dimensions per lane in the value phase: headDim <= 128

__device__ __forceinline__ void load8(const float* p, float (&f)[8]) {
    float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
    f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float (&f)[8]) {
    uint4 raw = *reinterpret_cast<const uint4*>(p);
    uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int j = 0; j < 4; j++) {
        f[2 * j] = __uint_as_float(w[j] << 16);
        f[2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
    }
}

// Split attention of one query per sequence over its paged cache for one layer. grid: (kvHeads, B, splits);
// a block serves the G = heads / kvHeads query heads of one KV head, so each key and value is read once per
// group. Scores: a thread per slot (slotsPerSplit <= blockDim), reading its key row with 16-byte loads against
// the queries in shared memory. Values: each warp takes every warps-th slot, its lanes the head dimensions,
// and the warps' sums are added at the end. Per (query head, split) it writes the split's max m, sum l of
// exps and unnormalised output o (as attention_split does), and, if expScores is not null, exp(score - m) of
// each slot at expScores[b][h][slot] (row stride scoreStride) for the score update.
// Dynamic shared memory: G * (headDim + slotsPerSplit + warps * headDim) floats. headDim: a multiple of 8, <= 128.
template <typename KV>
__device__ __forceinline__ void attention_paged(const float* q, const KV* keys, const KV* values, const int* seqSlot,
                                                const int* lengths, const int* blockTable, int maxBlocks, int layers, int layer,
                                                int heads, int kvHeads, int headDim, int blockSize, float scale, int slotsPerSplit,
                                                float* partialOut, float* partialMax, float* partialSum, float* expScores,
                                                int scoreStride) {
    extern __shared__ float shared[];
    int kvh = blockIdx.x, b = blockIdx.y, split = blockIdx.z, splits = gridDim.z;
    int G = heads / kvHeads, kvDim = kvHeads * headDim;
    int len = lengths[b * layers + layer];
    int s0 = split * slotsPerSplit, s1 = min(s0 + slotsPerSplit, len);
    int count = max(0, s1 - s0);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float* sq = shared;                            // [G][headDim]
    float* se = sq + G * headDim;                  // [G][slotsPerSplit]
    float* red = se + G * slotsPerSplit;           // [warps][G][headDim]
    const int* table = blockTable + ((long long)seqSlot[b] * layers + layer) * maxBlocks;
    for (int i = threadIdx.x; i < G * headDim; i += blockDim.x) sq[i] = q[(long long)b * heads * headDim + kvh * G * headDim + i];
    __syncthreads();

    if (threadIdx.x < count) {
        int s = s0 + threadIdx.x;
        long long row = (long long)table[s / blockSize] * blockSize + s % blockSize;
        const KV* k = keys + row * kvDim + kvh * headDim;
        float d[MAX_GROUP];
#pragma unroll
        for (int g = 0; g < MAX_GROUP; g++) d[g] = 0.f;
        for (int i = 0; i < headDim; i += 8) {
            float kv[8];
            load8(k + i, kv);
#pragma unroll
            for (int g = 0; g < MAX_GROUP; g++) {
                if (g < G) {
                    const float* qg = sq + g * headDim + i;
#pragma unroll
                    for (int j = 0; j < 8; j++) d[g] += qg[j] * kv[j];
                }
            }
        }
#pragma unroll
        for (int g = 0; g < MAX_GROUP; g++) {
            if (g < G) se[g * slotsPerSplit + threadIdx.x] = d[g] * scale;
        }
    }
    __syncthreads();

    for (int g = warp; g < G; g += warps) {
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
            partialMax[pair * splits + split] = m; // -inf for a split past the sequence's length, whose sum is 0
            partialSum[pair * splits + split] = l;
        }
        if (expScores != nullptr) {
            for (int s = lane; s < count; s += 32) expScores[pair * scoreStride + s0 + s] = e[s];
        }
    }
    __syncthreads();

    float acc[MAX_GROUP][MAX_DIMS_PER_LANE];
#pragma unroll
    for (int g = 0; g < MAX_GROUP; g++) {
#pragma unroll
        for (int j = 0; j < MAX_DIMS_PER_LANE; j++) acc[g][j] = 0.f;
    }
#pragma unroll 2
    for (int t = warp; t < count; t += warps) {
        int s = s0 + t;
        long long row = (long long)table[s / blockSize] * blockSize + s % blockSize;
        const KV* v = values + row * kvDim + kvh * headDim;
        float vv[MAX_DIMS_PER_LANE];
#pragma unroll
        for (int j = 0; j < MAX_DIMS_PER_LANE; j++) {
            int i = lane + 32 * j;
            vv[j] = i < headDim ? to_float(v[i]) : 0.f;
        }
#pragma unroll
        for (int g = 0; g < MAX_GROUP; g++) {
            if (g < G) {
                float p = se[g * slotsPerSplit + t];
#pragma unroll
                for (int j = 0; j < MAX_DIMS_PER_LANE; j++) acc[g][j] += p * vv[j];
            }
        }
    }
#pragma unroll
    for (int g = 0; g < MAX_GROUP; g++) {
        if (g < G) {
#pragma unroll
            for (int j = 0; j < MAX_DIMS_PER_LANE; j++) {
                int i = lane + 32 * j;
                if (i < headDim) red[(warp * G + g) * headDim + i] = acc[g][j];
            }
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < G * headDim; e += blockDim.x) {
        int g = e / headDim, i = e % headDim;
        float o = 0.f;
        for (int w = 0; w < warps; w++) o += red[(w * G + g) * headDim + i];
        long long pair = (long long)b * heads + kvh * G + g;
        partialOut[(pair * splits + split) * headDim + i] = o;
    }
}

// Combines the splits: blocks y < heads write the output of head y (f32 and bf16); blocks y >= heads (present
// only when scoring) update the scores of split y - heads: S[slot] = gamma * S[slot] + sum over heads of the
// slot's probability (Lethe's RASR with a_t summed over query heads). grid: (B, heads [+ splits]).
extern "C" __global__ void attention_paged_finish(const float* partialOut, const float* partialMax, const float* partialSum,
                                                  float* out, __nv_bfloat16* out16, const float* expScores, int scoreStride,
                                                  float* scores, float gamma, const int* seqSlot, const int* lengths,
                                                  const int* blockTable, int maxBlocks, int layers, int layer, int heads,
                                                  int headDim, int blockSize, int splits, int slotsPerSplit) {
    __shared__ float factor[256];
    int b = blockIdx.x, y = blockIdx.y;
    if (y < heads) {
        long long pair = (long long)b * heads + y;
        const float* m = partialMax + pair * splits;
        SplitTotals t = split_totals(m, partialSum + pair * splits, splits);
        float inv = 1.f / t.sum;
        for (int i = threadIdx.x; i < headDim; i += blockDim.x) {
            float o = combine_splits(partialOut + pair * splits * headDim, m, splits, t.max, headDim, i) * inv;
            out[pair * headDim + i] = o;
            out16[pair * headDim + i] = __float2bfloat16(o);
        }
        return;
    }
    int split = y - heads;
    int len = lengths[b * layers + layer];
    int s0 = split * slotsPerSplit, s1 = min(s0 + slotsPerSplit, len);
    if (s0 >= s1) return;
    for (int h = threadIdx.x; h < heads; h += blockDim.x) {
        long long pair = (long long)b * heads + h;
        SplitTotals t = split_totals(partialMax + pair * splits, partialSum + pair * splits, splits);
        factor[h] = expf(partialMax[pair * splits + split] - t.max) / t.sum;
    }
    __syncthreads();
    int seq = seqSlot[b];
    for (int s = s0 + threadIdx.x; s < s1; s += blockDim.x) {
        float mass = 0.f;
        for (int h = 0; h < heads; h++) mass += expScores[((long long)b * heads + h) * scoreStride + s] * factor[h];
        long long row = pool_row(blockTable, maxBlocks, layers, seq, layer, s, blockSize);
        scores[row] = gamma * scores[row] + mass;
    }
}

#define PAGED_KERNELS(SUFFIX, KV)                                                                                          \
    extern "C" __global__ void qkv_rope_append_##SUFFIX(                                                                   \
        const float* partial, int splits, int nPad, float* q, KV* keys, KV* values, float* scores, const int* seqSlot,      \
        const int* positions, const int* lengths, const int* blockTable, int maxBlocks, int layers, int layer, int heads,   \
        int kvHeads, int headDim, int blockSize, const double* inverseFrequency, int neox) {                                \
        qkv_rope_append<KV>(partial, splits, nPad, q, keys, values, scores, seqSlot, positions, lengths, blockTable,        \
                            maxBlocks, layers, layer, heads, kvHeads, headDim, blockSize, inverseFrequency, neox);          \
    }                                                                                                                      \
    extern "C" __global__ void attention_paged_##SUFFIX(                                                                   \
        const float* q, const KV* keys, const KV* values, const int* seqSlot, const int* lengths, const int* blockTable,   \
        int maxBlocks, int layers, int layer, int heads, int kvHeads, int headDim, int blockSize, float scale,              \
        int slotsPerSplit, float* partialOut, float* partialMax, float* partialSum, float* expScores, int scoreStride) {   \
        attention_paged<KV>(q, keys, values, seqSlot, lengths, blockTable, maxBlocks, layers, layer, heads, kvHeads,        \
                            headDim, blockSize, scale, slotsPerSplit, partialOut, partialMax, partialSum, expScores,        \
                            scoreStride);                                                                                  \
    }
PAGED_KERNELS(f32, float)
PAGED_KERNELS(bf16, __nv_bfloat16)

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
