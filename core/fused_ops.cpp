#include "core/fused_ops.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/runtime_kernels.h"

namespace baton::fused {
namespace {

// bf16 as raw 16-bit words (NVRTC without headers): widening is a shift,
// narrowing rounds to nearest even like c10::BFloat16.
const char* kSource = R"CUDA(
__device__ __forceinline__ float bf16_to_float(unsigned int bits16) { return __uint_as_float(bits16 << 16); }
__device__ __forceinline__ unsigned int float_to_bf16(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;
  u += 0x7fffu + ((u >> 16) & 1u);
  return u >> 16;
}
__device__ __forceinline__ float round_bf16(float f) { return bf16_to_float(float_to_bf16(f)); }

// One warp per (row, head); a lane holds up to 4 (re, im) pairs (hd <= 256).
extern "C" __global__ void baton_qk_norm_rope(const unsigned int* __restrict__ qk, const float* __restrict__ weight,
                                              const float* __restrict__ cis, unsigned int* __restrict__ q,
                                              unsigned int* __restrict__ k, long long rows, int q_heads, int k_heads,
                                              int pairs, float eps) {
  const int heads = q_heads + k_heads;
  const long long item = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (item >= rows * heads) return;  // whole warps leave together
  const long long row = item / heads;
  const int head = (int)(item % heads);
  const unsigned int* src = qk + item * pairs;
  const float* w = weight + (long long)head * 2 * pairs;
  const float* c = cis + row * 2 * pairs;
  // Every load first (they do not depend on each other), then the statistic.
  unsigned int v[4];
  float2 wv[4], cv[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int p = lane + 32 * j;
    v[j] = 0u;
    if (p < pairs) {
      v[j] = src[p];
      wv[j] = make_float2(w[2 * p], w[2 * p + 1]);
      cv[j] = make_float2(c[2 * p], c[2 * p + 1]);
    }
  }
  float re[4], im[4];
  float ss = 0.f;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    re[j] = bf16_to_float(v[j] & 0xffffu);
    im[j] = bf16_to_float(v[j] >> 16);
    ss += re[j] * re[j] + im[j] * im[j];
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, offset);
  const float rstd = rsqrtf(ss / (float)(2 * pairs) + eps);
  unsigned int* dst = head < q_heads ? q + (row * q_heads + head) * pairs
                                     : k + (row * k_heads + (head - q_heads)) * pairs;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int p = lane + 32 * j;
    if (p < pairs) {
      const float a = round_bf16(re[j] * rstd) * wv[j].x;
      const float b = round_bf16(im[j] * rstd) * wv[j].y;
      dst[p] = float_to_bf16(a * cv[j].x - b * cv[j].y) | (float_to_bf16(a * cv[j].y + b * cv[j].x) << 16);
    }
  }
}

// Row ends of the packed samples (at most 8), passed by value.
struct RowEnds {
  long long ends[8];
  int count;
};

__device__ __forceinline__ int sample_of(const RowEnds& e, long long row) {
  int s = 0;
  while (s + 1 < e.count && row >= e.ends[s]) ++s;
  return s;
}

__device__ __forceinline__ float square_sum(unsigned int v) {
  const float a = bf16_to_float(v & 0xffffu), b = bf16_to_float(v >> 16);
  return a * a + b * b;
}

// out (two bf16) = bf16(in * rstd * g), or bf16(o + bf16(in * rstd * g)) when adding.
__device__ __forceinline__ unsigned int norm_pair(unsigned int v, unsigned int g, unsigned int o, float rstd, int add) {
  float a = bf16_to_float(v & 0xffffu) * rstd * bf16_to_float(g & 0xffffu);
  float b = bf16_to_float(v >> 16) * rstd * bf16_to_float(g >> 16);
  if (add) {
    a = bf16_to_float(o & 0xffffu) + round_bf16(a);
    b = bf16_to_float(o >> 16) + round_bf16(b);
  }
  return float_to_bf16(a) | (float_to_bf16(b) << 16);
}

// One warp per row, the row held in registers (16-byte loads, read once):
// rows of up to 32 * 12 * 8 = 3072 values, a multiple of 8. With the sample's
// weight row w: out = bf16(in * rstd * w), or out = bf16(out + bf16(in * rstd * w)).
extern "C" __global__ void baton_rms_norm_rows(const uint4* __restrict__ in, const uint4* __restrict__ w,
                                               long long w_stride, uint4* __restrict__ out, int vecs, long long rows,
                                               RowEnds ends, float eps, int add) {
  const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;  // whole warps leave together
  const uint4* r = in + row * vecs;
  uint4 v[12];
  float ss = 0.f;
#pragma unroll
  for (int j = 0; j < 12; ++j) {
    const int i = lane + 32 * j;
    if (i < vecs) {
      v[j] = r[i];
      ss += square_sum(v[j].x) + square_sum(v[j].y) + square_sum(v[j].z) + square_sum(v[j].w);
    }
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, offset);
  const float rstd = rsqrtf(ss / (float)(8 * vecs) + eps);
  const uint4* wr = w + sample_of(ends, row) * w_stride;
  uint4* o = out + row * vecs;
#pragma unroll
  for (int j = 0; j < 12; ++j) {
    const int i = lane + 32 * j;
    if (i < vecs) {
      const uint4 g = wr[i];
      const uint4 prev = add ? o[i] : make_uint4(0u, 0u, 0u, 0u);
      uint4 y;
      y.x = norm_pair(v[j].x, g.x, prev.x, rstd, add);
      y.y = norm_pair(v[j].y, g.y, prev.y, rstd, add);
      y.z = norm_pair(v[j].z, g.z, prev.z, rstd, add);
      y.w = norm_pair(v[j].w, g.w, prev.w, rstd, add);
      o[i] = y;
    }
  }
}

__device__ __forceinline__ unsigned int silu_mul_pair(unsigned int a, unsigned int b) {
  float x0 = bf16_to_float(a & 0xffffu), x1 = bf16_to_float(a >> 16);
  x0 = round_bf16(x0 / (1.f + expf(-x0))) * bf16_to_float(b & 0xffffu);
  x1 = round_bf16(x1 / (1.f + expf(-x1))) * bf16_to_float(b >> 16);
  return float_to_bf16(x0) | (float_to_bf16(x1) << 16);
}

// Eight elements per thread (16-byte loads); n is a multiple of 8, both
// pointers 16-byte aligned (the host checks).
extern "C" __global__ void baton_silu_mul(uint4* __restrict__ a, const uint4* __restrict__ b, long long n8) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += stride) {
    uint4 x = a[i];
    const uint4 y = b[i];
    x.x = silu_mul_pair(x.x, y.x);
    x.y = silu_mul_pair(x.y, y.y);
    x.z = silu_mul_pair(x.z, y.z);
    x.w = silu_mul_pair(x.w, y.w);
    a[i] = x;
  }
}
)CUDA";

std::atomic<bool>& switch_state() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("BATON_FUSED_KERNELS");
    return !(env && (std::strcmp(env, "0") == 0 || std::strcmp(env, "off") == 0));
  }()};
  return on;
}

const RuntimeKernels& kernels() {
  static const RuntimeKernels k("baton_fused_ops", kSource, {"baton_qk_norm_rope", "baton_silu_mul", "baton_rms_norm_rows"});
  return k;
}

// A kernel that cannot be compiled or launched turns the fused path off (with
// one warning) rather than failing the request; the caller's libtorch ops run.
template <typename F>
bool run_or_disable(F&& f) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    if (switch_state().exchange(false))
      spdlog::warn("fused kernels off: {}; the DiT uses libtorch's ops instead", e.what());
    return false;
  }
}

}  // namespace

bool available(const at::Tensor& x) {
  return RuntimeKernels::compiled_in() && switch_state().load(std::memory_order_relaxed) && x.defined() &&
         x.is_cuda() && x.scalar_type() == at::kBFloat16;
}

void set_enabled(bool enabled) { switch_state() = enabled; }
bool enabled() { return switch_state(); }
int64_t launches() { return kernels().launches(); }

std::optional<std::pair<at::Tensor, at::Tensor>> qk_norm_rope(const at::Tensor& qk, const at::Tensor& weight,
                                                               const at::Tensor& cis, int64_t q_heads, double eps) {
  if (!available(qk) || qk.dim() != 3 || !qk.is_contiguous() || qk.size(2) % 2 != 0 || qk.size(2) > 256 ||
      qk.size(1) <= q_heads)
    return std::nullopt;
  const int64_t rows = qk.size(0), heads = qk.size(1), hd = qk.size(2), k_heads = heads - q_heads;
  require(q_heads >= 1, "qk_norm_rope needs query heads");
  require(weight.scalar_type() == at::kFloat && weight.numel() == heads * hd && weight.device() == qk.device(),
          "qk_norm_rope: the norm weight must be float32 [H, hd] on the same device");
  require(cis.scalar_type() == at::kComplexFloat && cis.dim() == 2 && cis.size(0) == rows && cis.size(1) == hd / 2,
          "qk_norm_rope: cis must be complex64 [R, hd / 2]");
  const auto w = weight.contiguous();
  const auto c = at::view_as_real(cis.contiguous());
  auto q = at::empty({rows, q_heads, hd}, qk.options());
  auto k = at::empty({rows, k_heads, hd}, qk.options());
  if (rows == 0) return std::make_pair(q, k);
  const void* qk_ptr = qk.data_ptr();
  const void* w_ptr = w.data_ptr();
  const void* c_ptr = c.data_ptr();
  void* q_ptr = q.data_ptr();
  void* k_ptr = k.data_ptr();
  long long n_rows = rows;
  int nq = static_cast<int>(q_heads), nk = static_cast<int>(k_heads), pairs = static_cast<int>(hd / 2);
  float e = static_cast<float>(eps);
  constexpr unsigned kThreads = 256;  // 8 warps, one (row, head) each
  const auto grid = static_cast<unsigned>((rows * heads + kThreads / 32 - 1) / (kThreads / 32));
  if (!run_or_disable([&] {
        kernels().launch(qk.device(), "baton_qk_norm_rope", grid, kThreads,
                         {&qk_ptr, &w_ptr, &c_ptr, &q_ptr, &k_ptr, &n_rows, &nq, &nk, &pairs, &e});
      }))
    return std::nullopt;
  return std::make_pair(q, k);
}

namespace {

// Row ends of up to 8 samples, as the kernel takes them by value.
struct RowEnds {
  long long ends[8];
  int count;
};

bool aligned16(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

bool norm_rows(const at::Tensor& in, const at::Tensor& w, const std::vector<int64_t>& row_ends, at::Tensor& out,
               double eps, bool add) {
  if (!available(in) || in.dim() != 2 || !in.is_contiguous() || in.size(1) % 8 != 0 || in.size(1) > 3072 ||
      !out.is_contiguous() || out.sizes() != in.sizes() || out.scalar_type() != in.scalar_type() ||
      out.device() != in.device() ||
      w.scalar_type() != in.scalar_type() || w.dim() != 2 || w.size(0) != static_cast<int64_t>(row_ends.size()) ||
      w.size(1) != in.size(1) || w.stride(1) != 1 || w.stride(0) % 8 != 0 || row_ends.empty() ||
      row_ends.size() > 8 || row_ends.back() != in.size(0) || w.device() != in.device() || !aligned16(in) ||
      !aligned16(out) || !aligned16(w))
    return false;
  RowEnds ends{};
  for (size_t i = 0; i < row_ends.size(); ++i) ends.ends[i] = row_ends[i];
  ends.count = static_cast<int>(row_ends.size());
  if (in.size(0) == 0) return true;
  const void* in_ptr = in.data_ptr();
  const void* w_ptr = w.data_ptr();
  void* out_ptr = out.data_ptr();
  long long w_stride = w.stride(0) / 8, rows = in.size(0);
  int vecs = static_cast<int>(in.size(1) / 8), add_flag = add ? 1 : 0;
  float e = static_cast<float>(eps);
  constexpr unsigned kThreads = 256;  // 8 warps, one row each
  const auto grid = static_cast<unsigned>((rows + kThreads / 32 - 1) / (kThreads / 32));
  return run_or_disable([&] {
    kernels().launch(in.device(), "baton_rms_norm_rows", grid, kThreads,
                     {&in_ptr, &w_ptr, &w_stride, &out_ptr, &vecs, &rows, &ends, &e, &add_flag});
  });
}

}  // namespace

std::optional<at::Tensor> rms_norm_rows(const at::Tensor& x, const at::Tensor& w, const std::vector<int64_t>& row_ends,
                                        double eps) {
  if (!available(x)) return std::nullopt;
  auto out = at::empty_like(x, at::MemoryFormat::Contiguous);
  if (!norm_rows(x, w, row_ends, out, eps, false)) return std::nullopt;
  return out;
}

bool add_rms_norm_rows_(at::Tensor& x, const at::Tensor& y, const at::Tensor& w, const std::vector<int64_t>& row_ends,
                        double eps) {
  return norm_rows(y, w, row_ends, x, eps, true);
}

bool silu_mul_(at::Tensor& a, const at::Tensor& b) {
  if (!available(a) || !a.is_contiguous() || !b.is_contiguous() || b.scalar_type() != a.scalar_type() ||
      b.sizes() != a.sizes() || b.device() != a.device() || a.numel() % 8 != 0 || !aligned16(a) || !aligned16(b))
    return false;
  void* a_ptr = a.data_ptr();
  const void* b_ptr = b.data_ptr();
  long long n8 = a.numel() / 8;
  constexpr unsigned kThreads = 256;
  const auto grid = static_cast<unsigned>(std::min<long long>((n8 + kThreads - 1) / kThreads, 1 << 20));
  return run_or_disable([&] { kernels().launch(a.device(), "baton_silu_mul", grid, kThreads, {&a_ptr, &b_ptr, &n8}); });
}

}  // namespace baton::fused
