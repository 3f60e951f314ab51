#pragma once
// The libtorch 1.13 (Debian) / 2.x (PyTorch) seam. Everything that differs
// between the two lives here, so model code calls one function either way.
#include <ATen/ATen.h>
#include <torch/version.h>

#include <optional>

#define BATON_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace baton::compat {

// softmax(q k^T * scale + mask) v for q [B, Hq, Sq, D], k/v [B, Hkv, Sk, D] with
// Hq a multiple of Hkv (grouped-query attention: query head h reads kv head
// h / (Hq / Hkv)). `key_mask` is a bool [B, Sk] (true = attend), a bool
// [B, Sq, Sk] (a mask per query: causal, sliding window) or undefined.
// On 2.x this is at::scaled_dot_product_attention (flash / memory-efficient
// kernels on CUDA); on 1.13 an exact fallback that accumulates in float32.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& key_mask, double scale);

// x / sqrt(mean(x^2) + eps) * w over the last dimension, statistics and the
// weight multiply in float32, rounded once to x's dtype (spec A.2). An
// undefined weight means no weight multiply.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Whether this libtorch runs dense layers (matmul, norms) in `dtype` on devices
// of `device`'s type: float32 and bf16 everywhere, fp16 on CUDA (and on the CPU
// from 2.2; 1.13 has no CPU fp16 matmul).
bool supports_compute_dtype(const at::Device& device, at::ScalarType dtype);

// float32 on CUDA as IEEE float32 (no TF32 in matmuls and convolutions), as
// the golden references compute; false restores libtorch's defaults.
void set_exact_float32(bool exact);
// e4m3 codes (uint8, core/float8.h) -> `dtype` through libtorch's float8 dtype
// (2.1+, one kernel on any device). Undefined on 1.13, which has no float8 dtype.
at::Tensor decode_float8_e4m3(const at::Tensor& codes, at::ScalarType dtype);

// x [..., K] (bf16/fp16 on CUDA) times W^T for W = codes * scale, with e4m3
// weight codes [N, K] (uint8) and a float32 scale per output row [N], on the
// FP8 matrix units: at::_scaled_mm (libtorch 2.5+, CUDA compute capability
// >= 8.9). x is quantised to e4m3 on the fly, with a scale per row on Hopper
// (row-wise _scaled_mm, both scales applied in the GEMM) and one scale for
// the tensor elsewhere (the weight's row scales then multiply the output
// columns). Returns an undefined tensor where this path is not available (CPU,
// libtorch < 2.5, older GPUs, K or N not multiples of 16, or disabled); the
// caller then dequantises the weight instead.
at::Tensor fp8_linear(const at::Tensor& x, const at::Tensor& codes, const at::Tensor& scale);
// Turns the fp8_linear path off (benchmarks compare it with dequantising).
void set_fp8_matmul_enabled(bool enabled);
bool fp8_matmul_enabled();

// Human-readable libtorch version, e.g. "1.13.0".
const char* torch_version();

}  // namespace baton::compat
