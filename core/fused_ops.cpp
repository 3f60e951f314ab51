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

__device__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int i = 0; i < warps; ++i) total += partial[i];
  return total;
}

// One block per row: the RMS statistic of `in`'s row, then with its sample's
// weight row w: out = bf16(in * rstd * w) (add == 0), or out = bf16(out + bf16(in * rstd * w)).
extern "C" __global__ void baton_rms_norm_rows(const unsigned int* __restrict__ in, const unsigned int* __restrict__ w,
                                               long long w_stride, unsigned int* __restrict__ out, int pairs,
                                               RowEnds ends, float eps, int add) {
  const long long row = blockIdx.x;
  const unsigned int* r = in + row * pairs;
  float ss = 0.f;
  for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
    const unsigned int v = r[p];
    const float a = bf16_to_float(v & 0xffffu), b = bf16_to_float(v >> 16);
    ss += a * a + b * b;
  }
  const float rstd = rsqrtf(block_sum(ss) / (float)(2 * pairs) + eps);
  const unsigned int* wr = w + sample_of(ends, row) * w_stride;
  unsigned int* o = out + row * pairs;
  for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
    const unsigned int v = r[p], g = wr[p];
    float a = bf16_to_float(v & 0xffffu) * rstd * bf16_to_float(g & 0xffffu);
    float b = bf16_to_float(v >> 16) * rstd * bf16_to_float(g >> 16);
    if (add) {
      const unsigned int x = o[p];
      a = bf16_to_float(x & 0xffffu) + round_bf16(a);
      b = bf16_to_float(x >> 16) + round_bf16(b);
    }
    o[p] = float_to_bf16(a) | (float_to_bf16(b) << 16);
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

bool norm_rows(const at::Tensor& in, const at::Tensor& w, const std::vector<int64_t>& row_ends, at::Tensor& out,
               double eps, bool add) {
  if (!available(in) || in.dim() != 2 || !in.is_contiguous() || in.size(1) % 2 != 0 || !out.is_contiguous() ||
      out.sizes() != in.sizes() || out.scalar_type() != in.scalar_type() || w.scalar_type() != in.scalar_type() ||
      w.dim() != 2 || w.size(0) != static_cast<int64_t>(row_ends.size()) || w.size(1) != in.size(1) ||
      w.stride(1) != 1 || w.stride(0) % 2 != 0 || row_ends.empty() || row_ends.size() > 8 ||
      row_ends.back() != in.size(0) || w.device() != in.device())
    return false;
  RowEnds ends{};
  for (size_t i = 0; i < row_ends.size(); ++i) ends.ends[i] = row_ends[i];
  ends.count = static_cast<int>(row_ends.size());
  if (in.size(0) == 0) return true;
  const void* in_ptr = in.data_ptr();
  const void* w_ptr = w.data_ptr();
  void* out_ptr = out.data_ptr();
  long long w_stride = w.stride(0) / 2;
  int pairs = static_cast<int>(in.size(1) / 2), add_flag = add ? 1 : 0;
  float e = static_cast<float>(eps);
  return run_or_disable([&] {
    kernels().launch(in.device(), "baton_rms_norm_rows", static_cast<unsigned>(in.size(0)), 256,
                     {&in_ptr, &w_ptr, &w_stride, &out_ptr, &pairs, &ends, &e, &add_flag});
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
  return available(x) && norm_rows(y, w, row_ends, x, eps, true);
}

bool silu_mul_(at::Tensor& a, const at::Tensor& b) {
  const auto aligned = [](const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; };
  if (!available(a) || !a.is_contiguous() || !b.is_contiguous() || b.scalar_type() != a.scalar_type() ||
      b.sizes() != a.sizes() || b.device() != a.device() || a.numel() % 8 != 0 || !aligned(a) || !aligned(b))
    return false;
  void* a_ptr = a.data_ptr();
  const void* b_ptr = b.data_ptr();
  long long n8 = a.numel() / 8;
  constexpr unsigned kThreads = 256;
  const auto grid = static_cast<unsigned>(std::min<long long>((n8 + kThreads - 1) / kThreads, 1 << 20));
  return run_or_disable([&] { kernels().launch(a.device(), "baton_silu_mul", grid, kThreads, {&a_ptr, &b_ptr, &n8}); });
}

}  // namespace baton::fused
