#pragma once
// Rotary position embedding in the rotate-half ("NeoX") form used by Gemma3
// (spec C.2) and the Jina XLM-R tower (spec D.2): dims m and m + dim/2 form a
// pair rotated by the angle pos * inv_freq_m.
#include <ATen/ATen.h>

namespace baton::models {

struct RotaryTable {
  at::Tensor cos;  // [length, dim]
  at::Tensor sin;  // [length, dim]
};

// Tables for positions 0..length-1 with inv_freq_m = base^(-2m/dim) / linear_scaling,
// computed in float32 (as the references do) and then cast to `dtype`.
RotaryTable rotate_half_table(int64_t length, int64_t dim, double base, double linear_scaling,
                              at::ScalarType dtype, at::Device device);

// x * cos + rotate_half(x) * sin over the last dimension of x [..., length, dim].
at::Tensor apply_rotate_half(const at::Tensor& x, const RotaryTable& table);

}  // namespace baton::models
