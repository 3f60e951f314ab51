#include "models/rotary/rotate_half_rope.h"

namespace baton::models {

RotaryTable rotate_half_table(int64_t length, int64_t dim, double base, double linear_scaling,
                              at::ScalarType dtype, at::Device device) {
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  // Same order of float32 operations as transformers: 1 / base^(2m/dim), then / factor.
  auto exponent = at::arange(0, dim, 2, f32.dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim);
  auto inv_freq = at::reciprocal(at::pow(base, exponent));
  if (linear_scaling != 1.0) inv_freq = inv_freq / linear_scaling;
  auto pos = at::arange(length, f32);
  auto freqs = at::outer(pos, inv_freq);
  auto emb = at::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rotate_half(const at::Tensor& x, const RotaryTable& table) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = at::cat({-x2, x1}, -1);
  return x * table.cos + rotated * table.sin;
}

}  // namespace baton::models
