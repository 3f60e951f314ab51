#include "core/tensor_metrics.h"

#include "core/error.h"
#include "core/tensor_source.h"

namespace baton {
namespace {
void check_same_shape(const at::Tensor& out, const at::Tensor& ref) {
  if (out.sizes() != ref.sizes())
    throw Error("cannot compare a tensor of shape " + format_shape(out.sizes().vec()) + " with a reference of shape " +
                format_shape(ref.sizes().vec()));
}
}  // namespace

double relative_l2_error(const at::Tensor& out, const at::Tensor& ref) {
  check_same_shape(out, ref);
  auto o = out.detach().to(at::kCPU, at::kDouble);
  auto r = ref.detach().to(at::kCPU, at::kDouble);
  const double denom = r.norm().item<double>();
  const double num = (o - r).norm().item<double>();
  if (denom == 0) return num == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return num / denom;
}

double max_abs_error(const at::Tensor& out, const at::Tensor& ref) {
  check_same_shape(out, ref);
  if (out.numel() == 0) return 0;
  return (out.detach().to(at::kCPU, at::kDouble) - ref.detach().to(at::kCPU, at::kDouble)).abs().max().item<double>();
}

}  // namespace baton
