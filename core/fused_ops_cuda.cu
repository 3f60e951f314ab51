// Fused elementwise kernels of the Next-DiT block (issue 11): each reads its
// inputs once and writes once where libtorch needs two to six passes. The
// arithmetic and its roundings follow the unfused path (float32 statistics,
// one rounding where libtorch rounds), so results differ from it only by the
// order of the sum of squares.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "core/fused_ops_cuda.h"

namespace baton::fused::cuda {
namespace {

template <typename T> __device__ __forceinline__ float to_float(T v);
template <> __device__ __forceinline__ float to_float<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T> __device__ __forceinline__ float rounded(float v) { return to_float(from_float<T>(v)); }

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The sum of v over the block (every thread gets it).
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float t = lane < warps ? partial[lane] : 0.f;
    t = warp_sum(t);
    if (lane == 0) partial[0] = t;
  }
  __syncthreads();
  const float total = partial[0];
  __syncthreads();
  return total;
}

__device__ __forceinline__ int sample_of(const RowSamples& s, int64_t row) {
  int b = 0;
  while (b + 1 < s.count && row >= s.ends[b]) ++b;
  return b;
}

template <typename T>
__device__ float row_rstd(const T* __restrict__ x, int64_t width, float eps) {
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    const float v = to_float(x[i]);
    ss += v * v;
  }
  return rsqrtf(block_sum(ss) / static_cast<float>(width) + eps);
}

template <typename T>
__global__ void rms_norm_rows_kernel(const T* __restrict__ x, const T* __restrict__ w, int64_t w_stride,
                                     T* __restrict__ out, int64_t width, RowSamples samples, float eps) {
  const int64_t row = blockIdx.x;
  const T* xr = x + row * width;
  const float rstd = row_rstd(xr, width, eps);
  const T* wr = w + sample_of(samples, row) * w_stride;
  T* o = out + row * width;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x) o[i] = from_float<T>(to_float(xr[i]) * rstd * to_float(wr[i]));
}

template <typename T>
__global__ void add_rms_norm_rows_kernel(T* __restrict__ x, const T* __restrict__ y, const T* __restrict__ w,
                                         int64_t w_stride, int64_t width, RowSamples samples, float eps) {
  const int64_t row = blockIdx.x;
  const T* yr = y + row * width;
  const float rstd = row_rstd(yr, width, eps);
  const T* wr = w + sample_of(samples, row) * w_stride;
  T* xr = x + row * width;
  for (int64_t i = threadIdx.x; i < width; i += blockDim.x)
    xr[i] = from_float<T>(to_float(xr[i]) + rounded<T>(to_float(yr[i]) * rstd * to_float(wr[i])));
}

template <typename T>
__global__ void silu_mul_kernel(T* __restrict__ a, const T* __restrict__ b, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = to_float(a[i]);
    a[i] = from_float<T>(rounded<T>(v / (1.f + expf(-v))) * to_float(b[i]));
  }
}

// One warp per (row, head).
template <typename T>
__global__ void qk_norm_rope_kernel(const T* __restrict__ qk, const float* __restrict__ norm_weight,
                                    const float* __restrict__ cis, T* __restrict__ q, T* __restrict__ k, int64_t rows,
                                    int q_heads, int k_heads, int head_dim, float eps) {
  const int heads = q_heads + k_heads;
  const int64_t item = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (item >= rows * heads) return;  // the whole warp leaves together
  const int64_t row = item / heads;
  const int head = static_cast<int>(item % heads);
  const T* src = qk + item * head_dim;
  float ss = 0.f;
  for (int i = lane; i < head_dim; i += 32) {
    const float v = to_float(src[i]);
    ss += v * v;
  }
  const float rstd = rsqrtf(warp_sum(ss) / static_cast<float>(head_dim) + eps);
  const float* wr = norm_weight + static_cast<int64_t>(head) * head_dim;
  const float* c = cis + row * head_dim;  // head_dim / 2 pairs (cos, sin)
  T* dst = head < q_heads ? q + (row * q_heads + head) * head_dim : k + (row * k_heads + head - q_heads) * head_dim;
  for (int p = lane; p < head_dim / 2; p += 32) {
    const float re = rounded<T>(to_float(src[2 * p]) * rstd) * wr[2 * p];
    const float im = rounded<T>(to_float(src[2 * p + 1]) * rstd) * wr[2 * p + 1];
    const float cs = c[2 * p], sn = c[2 * p + 1];
    dst[2 * p] = from_float<T>(re * cs - im * sn);
    dst[2 * p + 1] = from_float<T>(re * sn + im * cs);
  }
}

const char* launched() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

int row_threads(int64_t width) { return width >= 1024 ? 256 : 128; }

template <typename F>
const char* dispatch(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: f(float{}); break;
    case DType::kFloat16: f(__half{}); break;
    case DType::kBFloat16: f(__nv_bfloat16{}); break;
  }
  return launched();
}

}  // namespace

const char* rms_norm_rows(DType dtype, const void* x, const void* w, int64_t w_stride, void* out, int64_t rows,
                          int64_t width, RowSamples samples, float eps, cudaStream_t stream) {
  return dispatch(dtype, [&](auto zero) {
    using T = decltype(zero);
    rms_norm_rows_kernel<T><<<static_cast<unsigned>(rows), row_threads(width), 0, stream>>>(
        static_cast<const T*>(x), static_cast<const T*>(w), w_stride, static_cast<T*>(out), width, samples, eps);
  });
}

const char* add_rms_norm_rows(DType dtype, void* x, const void* y, const void* w, int64_t w_stride, int64_t rows,
                              int64_t width, RowSamples samples, float eps, cudaStream_t stream) {
  return dispatch(dtype, [&](auto zero) {
    using T = decltype(zero);
    add_rms_norm_rows_kernel<T><<<static_cast<unsigned>(rows), row_threads(width), 0, stream>>>(
        static_cast<T*>(x), static_cast<const T*>(y), static_cast<const T*>(w), w_stride, width, samples, eps);
  });
}

const char* silu_mul(DType dtype, void* a, const void* b, int64_t n, cudaStream_t stream) {
  return dispatch(dtype, [&](auto zero) {
    using T = decltype(zero);
    const int threads = 256;
    const int64_t blocks = (n + threads - 1) / threads;
    silu_mul_kernel<T><<<static_cast<unsigned>(blocks < 65535 * 8 ? blocks : 65535 * 8), threads, 0, stream>>>(
        static_cast<T*>(a), static_cast<const T*>(b), n);
  });
}

const char* qk_norm_rope(DType dtype, const void* qk, const float* norm_weight, const float* cis, void* q, void* k,
                         int64_t rows, int q_heads, int k_heads, int head_dim, float eps, cudaStream_t stream) {
  return dispatch(dtype, [&](auto zero) {
    using T = decltype(zero);
    const int threads = 128;  // 4 warps: 4 (row, head) items per block
    const int64_t items = rows * (q_heads + k_heads);
    const int64_t blocks = (items * 32 + threads - 1) / threads;
    qk_norm_rope_kernel<T><<<static_cast<unsigned>(blocks), threads, 0, stream>>>(
        static_cast<const T*>(qk), norm_weight, cis, static_cast<T*>(q), static_cast<T*>(k), rows, q_heads, k_heads,
        head_dim, eps);
  });
}

}  // namespace baton::fused::cuda
