#include "core/fused_ops.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"

#ifdef BATON_WITH_FUSED_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/fused_ops_cuda.h"
#endif

namespace baton::fused {
namespace {

std::atomic<bool>& switch_state() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("BATON_FUSED_KERNELS");
    return !(env && (std::strcmp(env, "0") == 0 || std::strcmp(env, "off") == 0));
  }()};
  return on;
}

#ifdef BATON_WITH_FUSED_KERNELS
cuda::DType dtype_of(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return cuda::DType::kFloat32;
    case at::kHalf: return cuda::DType::kFloat16;
    case at::kBFloat16: return cuda::DType::kBFloat16;
    default: throw Error("fused kernels take float32, fp16 or bf16, not " + std::string(c10::toString(t.scalar_type())));
  }
}

void check(const char* error, const char* what) {
  if (error) throw Error(std::string("CUDA kernel ") + what + " failed: " + error);
}

cudaStream_t stream_of(const at::Tensor& t) { return c10::cuda::getCurrentCUDAStream(t.device().index()).stream(); }

cuda::RowSamples samples_of(const std::vector<int64_t>& row_ends, int64_t rows) {
  require(!row_ends.empty() && row_ends.size() <= static_cast<size_t>(cuda::kMaxSamples) && row_ends.back() == rows,
          "fused norm: row ends must name 1 to 8 samples ending at row " + std::to_string(rows));
  cuda::RowSamples s{};
  for (size_t i = 0; i < row_ends.size(); ++i) s.ends[i] = row_ends[i];
  s.count = static_cast<int>(row_ends.size());
  return s;
}

// The weight as (pointer, row stride) for the samples of row_ends.
int64_t weight_stride(const at::Tensor& x, const at::Tensor& w, size_t samples) {
  require(w.scalar_type() == x.scalar_type() && w.device() == x.device() && w.stride(-1) == 1 &&
              w.size(-1) == x.size(1) && (w.dim() == 1 || (w.dim() == 2 && w.size(0) == static_cast<int64_t>(samples))),
          "fused norm: the weight must be [D] or [samples, D] in x's dtype and device");
  return w.dim() == 1 ? 0 : w.stride(0);
}
#endif

}  // namespace

bool compiled_in() {
#ifdef BATON_WITH_FUSED_KERNELS
  return true;
#else
  return false;
#endif
}

void set_enabled(bool on) { switch_state() = on; }
bool enabled() { return switch_state(); }

bool available(const at::Tensor& x) {
  if (!compiled_in() || !enabled() || !x.defined() || !x.is_cuda()) return false;
  const auto t = x.scalar_type();
  return t == at::kFloat || t == at::kHalf || t == at::kBFloat16;
}

#ifdef BATON_WITH_FUSED_KERNELS
at::Tensor rms_norm_rows(const at::Tensor& x, const std::vector<int64_t>& row_ends, const at::Tensor& w, double eps) {
  require(available(x) && x.dim() == 2 && x.is_contiguous(), "fused norm: x must be contiguous [rows, D] on CUDA");
  const c10::cuda::CUDAGuard guard(x.device());
  const auto samples = samples_of(row_ends, x.size(0));
  const int64_t stride = weight_stride(x, w, row_ends.size());
  auto out = at::empty_like(x);
  if (x.size(0) == 0) return out;
  check(cuda::rms_norm_rows(dtype_of(x), x.data_ptr(), w.data_ptr(), stride, out.data_ptr(), x.size(0), x.size(1),
                            samples, static_cast<float>(eps), stream_of(x)),
        "rms_norm_rows");
  return out;
}

void add_rms_norm_rows_(at::Tensor& x, const at::Tensor& y, const std::vector<int64_t>& row_ends, const at::Tensor& w,
                        double eps) {
  require(available(x) && x.dim() == 2 && x.is_contiguous() && y.is_contiguous() && y.sizes() == x.sizes() &&
              y.scalar_type() == x.scalar_type() && y.device() == x.device(),
          "fused norm: x and y must be contiguous [rows, D] of one dtype on one CUDA device");
  const c10::cuda::CUDAGuard guard(x.device());
  const auto samples = samples_of(row_ends, x.size(0));
  const int64_t stride = weight_stride(x, w, row_ends.size());
  if (x.size(0) == 0) return;
  check(cuda::add_rms_norm_rows(dtype_of(x), x.data_ptr(), y.data_ptr(), w.data_ptr(), stride, x.size(0), x.size(1),
                                samples, static_cast<float>(eps), stream_of(x)),
        "add_rms_norm_rows");
}

void silu_mul_(at::Tensor& a, const at::Tensor& b) {
  require(available(a) && a.is_contiguous() && b.is_contiguous() && a.sizes() == b.sizes() &&
              a.scalar_type() == b.scalar_type() && a.device() == b.device(),
          "fused SiLU gate: a and b must be contiguous, of one shape and dtype, on one CUDA device");
  const c10::cuda::CUDAGuard guard(a.device());
  if (a.numel() == 0) return;
  check(cuda::silu_mul(dtype_of(a), a.data_ptr(), b.data_ptr(), a.numel(), stream_of(a)), "silu_mul");
}

std::pair<at::Tensor, at::Tensor> qk_norm_rope(const at::Tensor& qk, int64_t q_heads, const at::Tensor& norm_weight,
                                               const at::Tensor& cis, double eps) {
  require(available(qk) && qk.dim() == 3 && qk.is_contiguous() && q_heads >= 1 && q_heads < qk.size(1) &&
              qk.size(2) % 2 == 0,
          "fused q/k norm + RoPE: qk must be contiguous [rows, heads, even head_dim] on CUDA");
  const int64_t rows = qk.size(0), heads = qk.size(1), hd = qk.size(2);
  require(norm_weight.scalar_type() == at::kFloat && norm_weight.is_contiguous() && norm_weight.dim() == 2 &&
              norm_weight.size(0) == heads && norm_weight.size(1) == hd && norm_weight.device() == qk.device(),
          "fused q/k norm + RoPE: the norm weight must be float32 [heads, head_dim] on qk's device");
  require(cis.scalar_type() == at::kComplexFloat && cis.is_contiguous() && cis.dim() == 2 && cis.size(0) == rows &&
              cis.size(1) == hd / 2 && cis.device() == qk.device(),
          "fused q/k norm + RoPE: the RoPE table must be complex64 [rows, head_dim / 2] on qk's device");
  const c10::cuda::CUDAGuard guard(qk.device());
  auto q = at::empty({rows, q_heads, hd}, qk.options());
  auto k = at::empty({rows, heads - q_heads, hd}, qk.options());
  if (rows == 0) return {q, k};
  check(cuda::qk_norm_rope(dtype_of(qk), qk.data_ptr(), norm_weight.data_ptr<float>(),
                           static_cast<const float*>(cis.data_ptr()), q.data_ptr(), k.data_ptr(), rows,
                           static_cast<int>(q_heads), static_cast<int>(heads - q_heads), static_cast<int>(hd),
                           static_cast<float>(eps), stream_of(qk)),
        "qk_norm_rope");
  return {q, k};
}
#else
// Without the kernels available() is false, so callers never get here.
namespace {
[[noreturn]] void absent() { throw Error("this build of baton has no CUDA kernels of its own (fused ops)"); }
}  // namespace
at::Tensor rms_norm_rows(const at::Tensor&, const std::vector<int64_t>&, const at::Tensor&, double) { absent(); }
void add_rms_norm_rows_(at::Tensor&, const at::Tensor&, const std::vector<int64_t>&, const at::Tensor&, double) {
  absent();
}
void silu_mul_(at::Tensor&, const at::Tensor&) { absent(); }
std::pair<at::Tensor, at::Tensor> qk_norm_rope(const at::Tensor&, int64_t, const at::Tensor&, const at::Tensor&,
                                               double) {
  absent();
}
#endif

}  // namespace baton::fused
