#pragma once
// Launchers of baton's own CUDA kernels (core/fused_ops_cuda.cu), in plain
// C++ so that nvcc never sees libtorch's headers. core/fused_ops.h is the
// libtorch-facing side; call that instead.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace baton::fused::cuda {

enum class DType : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

constexpr int kMaxSamples = 8;
// Packed rows: row r belongs to the first sample b with r < ends[b].
struct RowSamples {
  int64_t ends[kMaxSamples];
  int count;
};

// out[r] = x[r] * rstd(x[r]) * w[sample(r)]; w rows `w_stride` elements apart.
// Each returns nullptr or the CUDA error's text.
const char* rms_norm_rows(DType dtype, const void* x, const void* w, int64_t w_stride, void* out, int64_t rows,
                          int64_t width, RowSamples samples, float eps, cudaStream_t stream);
// x[r] += round(y[r] * rstd(y[r]) * w[sample(r)]) (the norm rounded to dtype first, as the unfused ops do).
const char* add_rms_norm_rows(DType dtype, void* x, const void* y, const void* w, int64_t w_stride, int64_t rows,
                              int64_t width, RowSamples samples, float eps, cudaStream_t stream);
// a = round(silu(a)) * b, elementwise over n values.
const char* silu_mul(DType dtype, void* a, const void* b, int64_t n, cudaStream_t stream);
// qk [rows, q_heads + k_heads, head_dim]: per head RMSNorm (rounded to dtype),
// times norm_weight (float32 [q_heads + k_heads, head_dim]), rotated by cis
// (float32 pairs [rows, head_dim / 2, 2]: cos, sin), rounded into q [rows,
// q_heads, head_dim] and k [rows, k_heads, head_dim].
const char* qk_norm_rope(DType dtype, const void* qk, const float* norm_weight, const float* cis, void* q, void* k,
                         int64_t rows, int q_heads, int k_heads, int head_dim, float eps, cudaStream_t stream);

}  // namespace baton::fused::cuda
