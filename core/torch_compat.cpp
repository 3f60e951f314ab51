#include "core/torch_compat.h"

#include <ATen/Context.h>

#include <atomic>
#include <cmath>

#if BATON_TORCH_AT_LEAST(2, 5) && defined(BATON_WITH_CUDA)
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#define BATON_HAS_FP8_MATMUL 1
#endif

namespace baton::compat {
namespace {

// [B, Sk] or [B, Sq, Sk] -> broadcastable to [B, H, Sq, Sk].
at::Tensor mask_for_heads(const at::Tensor& key_mask) {
  if (key_mask.dim() == 3) return key_mask.unsqueeze(1);
  return key_mask.view({key_mask.size(0), 1, 1, key_mask.size(1)});
}

// Repeats kv heads so they line up with query heads; only the fallback and the
// 2.x paths without native GQA need it.
at::Tensor expand_kv(const at::Tensor& kv, int64_t groups) {
  if (groups == 1) return kv;
  return kv.repeat_interleave(groups, /*dim=*/1);
}

at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& key_mask, double scale) {
  const int64_t groups = q.size(1) / k.size(1);
  auto kf = expand_kv(k, groups).to(at::kFloat);
  auto vf = expand_kv(v, groups).to(at::kFloat);
  auto scores = at::matmul(q.to(at::kFloat), kf.transpose(-2, -1)) * scale;
  if (key_mask.defined()) {
    auto bias = at::zeros(key_mask.sizes(), scores.options())
                    .masked_fill(key_mask.logical_not(), -std::numeric_limits<float>::infinity());
    scores = scores + mask_for_heads(bias);
  }
  auto probs = at::softmax(scores, -1);
  // A query whose keys are all masked gives NaN; its output is don't-care, make it 0.
  probs = at::nan_to_num(probs, 0.0);
  return at::matmul(probs, vf).to(q.scalar_type());
}

std::atomic<bool> fp8_matmul_on{true};

#ifdef BATON_HAS_FP8_MATMUL
// What the FP8 matrix units of a device take: any _scaled_mm from compute
// capability 8.9 (Ada); the row-wise scaled kernel on 9.x (Hopper) only.
struct Fp8Support {
  bool matmul = false;
  bool rowwise = false;
};

std::mutex fp8_mutex;
std::map<int, Fp8Support> fp8_devices;  // guarded by fp8_mutex; a device's entry is
                                        // switched off when its call throws

Fp8Support fp8_support(const at::Device& device) {
  const int index = device.has_index() ? device.index() : static_cast<int>(c10::cuda::current_device());
  std::lock_guard<std::mutex> lock(fp8_mutex);
  auto it = fp8_devices.find(index);
  if (it != fp8_devices.end()) return it->second;
  int major = 0, minor = 0;
  Fp8Support s;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, index) == cudaSuccess &&
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, index) == cudaSuccess) {
    s.matmul = major > 8 || (major == 8 && minor >= 9);
    s.rowwise = major == 9;
  }
  fp8_devices[index] = s;
  return s;
}

void disable_fp8(const at::Device& device, bool rowwise_only, const c10::Error& e) {
  const int index = device.has_index() ? device.index() : static_cast<int>(c10::cuda::current_device());
  std::lock_guard<std::mutex> lock(fp8_mutex);
  auto& s = fp8_devices[index];
  (rowwise_only ? s.rowwise : s.matmul) = false;
  spdlog::warn("fp8 weights on {}: {} at::_scaled_mm failed ({}); using {} from now on", device.str(),
               rowwise_only ? "row-wise" : "tensor-wise", e.what_without_backtrace(),
               rowwise_only ? "one activation scale per tensor" : "dequantised weights");
}

// y = (x8 * x_scale) @ (w8 * w_scale)^T in `dtype`. Row-wise: x_scale [M, 1],
// w_scale [1, N], both applied in the GEMM. Tensor-wise: one activation scale,
// the weight's row scales multiply the output columns afterwards.
at::Tensor scaled_fp8_matmul(const at::Tensor& x2, const at::Tensor& codes, const at::Tensor& scale, bool rowwise) {
  const auto dtype = x2.scalar_type();
  const int64_t M = x2.size(0), N = codes.size(0);
  // max |x| / 448 per row or for the tensor; the factor is rounded to x's dtype
  // and its exact inverse is what the GEMM multiplies back (|x * factor| <= 450,
  // which e4m3 rounds to 448, never to NaN).
  const auto amax = rowwise ? at::linalg_vector_norm(x2, INFINITY, at::IntArrayRef{1}, /*keepdim=*/true)
                            : at::linalg_vector_norm(x2, INFINITY);
  const auto factor = (448.0 / amax.to(at::kFloat).clamp_min(1e-12)).to(dtype);
  const auto x8 = (x2 * factor).to(at::kFloat8_e4m3fn);
  const auto w8 = codes.view(at::kFloat8_e4m3fn).t();  // [K, N], column-major as _scaled_mm wants
  if (rowwise) {
    // Some 2.x row-wise kernels read the activation scales in blocks of 256
    // rows (pytorch#133334): pad the buffer so such reads stay inside it.
    const int64_t padded = (M + 255) / 256 * 256;
    auto x_scale = at::ones({padded, 1}, x2.options().dtype(at::kFloat)).narrow(0, 0, M);
    x_scale.copy_(factor.to(at::kFloat).reciprocal());
    return at::_scaled_mm(x8, w8, x_scale, scale.view({1, N}), {}, {}, dtype, /*use_fast_accum=*/false);
  }
  const auto x_scale = factor.to(at::kFloat).reciprocal();
  const auto one = at::ones({}, x2.options().dtype(at::kFloat));
  auto y = at::_scaled_mm(x8, w8, x_scale, one, {}, {}, dtype, /*use_fast_accum=*/false);
  return y.mul_(scale);
}
#endif

}  // namespace

at::Tensor decode_float8_e4m3(const at::Tensor& codes, at::ScalarType dtype) {
#if BATON_TORCH_AT_LEAST(2, 1)
  return codes.view(at::kFloat8_e4m3fn).to(dtype);
#else
  (void)codes, (void)dtype;
  return {};
#endif
}

void set_fp8_matmul_enabled(bool enabled) { fp8_matmul_on.store(enabled); }
bool fp8_matmul_enabled() { return fp8_matmul_on.load(); }

at::Tensor fp8_linear(const at::Tensor& x, const at::Tensor& codes, const at::Tensor& scale) {
#ifdef BATON_HAS_FP8_MATMUL
  const auto dtype = x.scalar_type();
  const int64_t K = codes.size(1), N = codes.size(0);
  if (!x.is_cuda() || !fp8_matmul_on.load(std::memory_order_relaxed) ||
      (dtype != at::kBFloat16 && dtype != at::kHalf) || K % 16 != 0 || N % 16 != 0 || x.size(-1) != K)
    return {};
  const auto support = fp8_support(x.device());
  if (!support.matmul) return {};
  auto sizes = x.sizes().vec();
  sizes.back() = N;
  const auto x2 = x.reshape({-1, K}).contiguous();
  if (support.rowwise && dtype == at::kBFloat16) {
    try {
      return scaled_fp8_matmul(x2, codes, scale, true).view(sizes);
    } catch (const c10::Error& e) {
      disable_fp8(x.device(), true, e);
    }
  }
  try {
    return scaled_fp8_matmul(x2, codes, scale, false).view(sizes);
  } catch (const c10::Error& e) {
    disable_fp8(x.device(), false, e);
  }
#else
  (void)x, (void)codes, (void)scale;
#endif
  return {};
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& key_mask, double scale) {
#if BATON_TORCH_AT_LEAST(2, 1)
  if (q.is_cuda()) {
    std::optional<at::Tensor> mask;
    if (key_mask.defined())
      mask = mask_for_heads(key_mask);
    const int64_t groups = q.size(1) / k.size(1);
#if BATON_TORCH_AT_LEAST(2, 5)
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, scale, groups > 1);
#else
    return at::scaled_dot_product_attention(q, expand_kv(k, groups), expand_kv(v, groups), mask,
                                            0.0, false, scale);
#endif
  }
#endif
  return attention_reference(q, k, v, key_mask, scale);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
#if BATON_TORCH_AT_LEAST(2, 5)
  // One fused kernel on CUDA (float32 statistics and weight multiply, one
  // rounding); it needs the weight in x's dtype.
  if (x.is_cuda() && (!weight.defined() || weight.scalar_type() == x.scalar_type())) {
    if (weight.defined()) return at::rms_norm(x, {x.size(-1)}, weight, eps);
    return at::rms_norm(x, {x.size(-1)}, {}, eps);
  }
#endif
  auto xf = x.to(at::kFloat);
  auto y = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  if (weight.defined()) y = y * weight.to(at::kFloat);
  return y.to(x.scalar_type());
}

bool supports_compute_dtype(const at::Device& device, at::ScalarType dtype) {
  if (dtype == at::kFloat || dtype == at::kBFloat16) return true;
  if (dtype != at::kHalf) return false;
  if (device.is_cuda()) return true;
#if BATON_TORCH_AT_LEAST(2, 2)
  return device.is_cpu();
#else
  return false;
#endif
}

void set_exact_float32(bool exact) {
  // Matmuls already default to IEEE float32 ("highest"); cuDNN convolutions
  // default to TF32.
  at::globalContext().setAllowTF32CuDNN(!exact);
}

const char* torch_version() { return TORCH_VERSION; }

}  // namespace baton::compat
