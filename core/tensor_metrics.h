#pragma once
// Error measures used by parity tests, `baton verify` and benchmarks.
#include <ATen/ATen.h>

namespace baton {

// ||out - ref|| / ||ref|| in float64 (0 when both are zero).
double relative_l2_error(const at::Tensor& out, const at::Tensor& ref);
// max |out - ref| in float64.
double max_abs_error(const at::Tensor& out, const at::Tensor& ref);

}  // namespace baton
