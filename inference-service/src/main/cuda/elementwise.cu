// Per-token kernels of the forward pass: embedding lookup, RMSNorm, RoPE, SwiGLU, residual and bias adds,
// plus the device-only helpers the benchmarks need (random weights, a copy for the bandwidth ceiling).
#include "common.cuh"

// x[t][0..dim) = dequantized row tokens[t] of the embedding table. grid: n tokens.
extern "C" __global__ void embedding(const uint8_t* table, int type, const int* tokens, float* x, int dim) {
    long long base = (long long)tokens[blockIdx.x] * dim;
    float* out = x + (long long)blockIdx.x * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) out[i] = weight_at(table, type, base + i);
}

// out[r] = weight * in[r] / rms(in[r]) for each row r of size floats. grid: rows. In place is allowed.
extern "C" __global__ void rmsnorm(const float* in, float* out, const float* weight, int size, float eps) {
    __shared__ float scratch[32];
    const float* x = in + (long long)blockIdx.x * size;
    float* y = out + (long long)blockIdx.x * size;
    float ss = 0.f;
    for (int i = threadIdx.x; i < size; i += blockDim.x) ss += x[i] * x[i];
    ss = block_sum(ss, scratch);
    float scale = 1.f / sqrtf(ss / size + eps);
    for (int i = threadIdx.x; i < size; i += blockDim.x) y[i] = weight[i] * (scale * x[i]);
}

// Rotates pair i of every head of token t by (startPosition + t) * inverseFrequency[i]. Pairs are
// (2i, 2i+1) (llama) or (i, i + headDim/2) (neox). x: [n][stride], heads at 0, headDim, ... grid: (n, heads).
// The angle is formed and its cosine taken in double, like the CPU engine, so long positions stay exact.
extern "C" __global__ void rope(float* x, int stride, int headDim, int startPosition, const double* inverseFrequency, int neox) {
    int half = headDim / 2;
    float* head = x + (long long)blockIdx.x * stride + (long long)blockIdx.y * headDim;
    double position = (double)(startPosition + (int)blockIdx.x);
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        double angle = position * inverseFrequency[i];
        float c = (float)cos(angle), s = (float)sin(angle);
        int a = neox ? i : 2 * i;
        int b = neox ? i + half : 2 * i + 1;
        float x0 = head[a], x1 = head[b];
        head[a] = x0 * c - x1 * s;
        head[b] = x0 * s + x1 * c;
    }
}

// gate[i] = silu(gate[i]) * up[i].
extern "C" __global__ void swiglu(float* gate, const float* up, long long count) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        float g = gate[i];
        gate[i] = g / (1.f + expf(-g)) * up[i];
    }
}

// x[i] += y[i].
extern "C" __global__ void add(float* x, const float* y, long long count) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        x[i] += y[i];
    }
}

// x[i] += bias[i % width] (a bias added to each of several rows).
extern "C" __global__ void add_bias(float* x, const float* bias, int width, long long count) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        x[i] += bias[i % width];
    }
}

// A counter-based hash (splitmix64's finaliser): element i's random bits depend only on (seed, i).
__device__ __forceinline__ uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

__device__ __forceinline__ float uniform_symmetric(uint64_t seed, long long i, float scale) {
    uint64_t bits = mix64(seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i);
    float u = (float)(bits >> 40) * (1.f / 16777216.f); // [0, 1)
    return (2.f * u - 1.f) * scale;
}

// Fills a bf16 tensor with uniform values in [-scale, scale): random weights made on the device.
extern "C" __global__ void fill_random_bf16(__nv_bfloat16* w, long long count, unsigned long long seed, float scale) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        w[i] = __float2bfloat16(uniform_symmetric(seed, i, scale));
    }
}

extern "C" __global__ void fill_random_f32(float* w, long long count, unsigned long long seed, float scale) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        w[i] = uniform_symmetric(seed, i, scale);
    }
}

// dst = src in 16-byte units: the device-to-device copy whose bandwidth is the ceiling for decoding.
extern "C" __global__ void copy16(const uint4* src, uint4* dst, long long count) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        dst[i] = src[i];
    }
}

// Returns after about ns nanoseconds of the device's global timer: holds the stream while the host queues work
// behind it (the benchmark's per-part timing). One thread.
extern "C" __global__ void spin(long long ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        __nanosleep(1000);
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while ((long long)(now - start) < ns);
}
