#pragma once
// Fused kernels for the elementwise work around the Next-DiT block's matrix
// products (issue 11): where libtorch needs several passes over memory, these
// read their inputs once and write once. bf16 on CUDA only (core/runtime_kernels.h);
// callers check available() and run the libtorch ops otherwise. They round
// where the libtorch ops round, so results differ from those only through the
// order of a sum of squares (an RMS statistic): an ulp here and there. Each
// returns "not done" (nullopt / false) where it does not apply or its kernel
// failed (then they turn off, with one warning): the caller runs the libtorch
// ops. BATON_FUSED_KERNELS=0 in the environment, or set_enabled(false), turns them off.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace baton::fused {

bool available(const at::Tensor& x);  // built in, enabled, x bf16 on CUDA
void set_enabled(bool enabled);
bool enabled();
// Kernels launched so far in this process (tests check the fused path ran).
int64_t launches();

// q|k rows [R, Hq + Hk, hd] (bf16, contiguous) -> (q [R, Hq, hd], k [R, Hk, hd]),
// each head RMS-normalised (float32 statistics, rounded to bf16 like
// at::rms_norm), times `weight` [Hq + Hk, hd] (float32), rotated by `cis`
// [R, hd / 2] (complex64: interleaved pairs, spec A.8) and rounded to bf16.
// Applies where qk is contiguous and hd even and at most 256.
std::optional<std::pair<at::Tensor, at::Tensor>> qk_norm_rope(const at::Tensor& qk, const at::Tensor& weight,
                                                               const at::Tensor& cis, int64_t q_heads, double eps);

// a = bf16(bf16(silu(a)) * b) in place: the SwiGLU gate (silu_ then mul_);
// both contiguous bf16 of one shape, a multiple of 8 elements.
bool silu_mul_(at::Tensor& a, const at::Tensor& b);

// RMSNorm of packed rows [R, D] (bf16, contiguous) with a weight row per
// sample: w [S, D] (bf16, rows contiguous), sample s owning the rows up to
// row_ends[s] (at most 8 samples): bf16(x * rstd * w[s]) with float32
// statistics, as compat::rms_norm per sample, in one pass and one output.
std::optional<at::Tensor> rms_norm_rows(const at::Tensor& x, const at::Tensor& w, const std::vector<int64_t>& row_ends,
                                        double eps);
// x += RMSNorm(y) * w[s] per sample (the sandwich norm's residual add):
// bf16(x + bf16(y * rstd * w[s])), one pass, in place.
bool add_rms_norm_rows_(at::Tensor& x, const at::Tensor& y, const at::Tensor& w, const std::vector<int64_t>& row_ends,
                        double eps);

}  // namespace baton::fused
