#pragma once
// Fused CUDA kernels for the elementwise work of a Next-DiT block (issue 11):
// RMSNorm of packed rows with each sample's (modulated) weight, the same added
// to a residual stream, the SiLU gate of the FFN, and q/k RMSNorm + RoPE with
// the cast back to the activation dtype. Each replaces two to six libtorch
// passes over memory with one (`baton bench dit --breakdown` shows what the
// unfused ops cost). Results equal the unfused ops' up to the summation order
// of the norms' statistics.
//
// available(x) says whether a call may use them: a build with CUDA kernels
// (BATON_WITH_FUSED_KERNELS), x on CUDA in float32, fp16 or bf16, and not
// switched off (set_enabled(false), or BATON_FUSED_KERNELS=0 in the
// environment). Callers keep their libtorch path for everything else.
#include <ATen/ATen.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace baton::fused {

bool available(const at::Tensor& x);
// Whether this build has the kernels at all.
bool compiled_in();
// On by default (unless BATON_FUSED_KERNELS=0); benchmarks compare both ways.
void set_enabled(bool enabled);
bool enabled();

// x [rows, D] contiguous; row_ends: end row of each sample (at most 8; the
// last equals rows); w [samples, D] (rows may be strided, elements contiguous)
// or [D] for every row, in x's dtype. Returns x * rstd(x) * w[sample].
at::Tensor rms_norm_rows(const at::Tensor& x, const std::vector<int64_t>& row_ends, const at::Tensor& w, double eps);
// x += RMSNorm(y) * w[sample], as rms_norm_rows (the norm rounded to x's dtype first).
void add_rms_norm_rows_(at::Tensor& x, const at::Tensor& y, const std::vector<int64_t>& row_ends, const at::Tensor& w,
                        double eps);
// a = silu(a) * b in place; a and b contiguous, same shape and dtype.
void silu_mul_(at::Tensor& a, const at::Tensor& b);
// qk [rows, q_heads + k_heads, hd] contiguous; norm_weight float32 [q_heads +
// k_heads, hd]; cis complex64 [rows, hd / 2]. Returns (q [rows, q_heads, hd],
// k [rows, k_heads, hd]) in qk's dtype: each head RMS-normed, weighted and rotated.
std::pair<at::Tensor, at::Tensor> qk_norm_rope(const at::Tensor& qk, int64_t q_heads, const at::Tensor& norm_weight,
                                               const at::Tensor& cis, double eps);

}  // namespace baton::fused
