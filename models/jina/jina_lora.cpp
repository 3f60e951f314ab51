#include "models/jina/jina_lora.h"

#include <algorithm>

#include "core/error.h"

namespace baton::models {

at::Tensor load_jina_weight(const JinaConfig& config, const TensorSource& weights, const std::string& module,
                            const std::vector<int64_t>& shape, JinaLoraKind kind, const at::TensorOptions& options) {
  const std::string original = module + ".parametrizations.weight.original";
  if (!weights.contains(original)) return weights.load_checked(module + ".weight", shape, options);

  const int64_t r = config.lora_rank, rows = shape.at(0), cols = shape.at(1);
  const std::string lora = module + ".parametrizations.weight.0.lora_";
  const auto f32 = options.dtype(at::kFloat);
  at::Tensor a, b;  // the delta is left [rows, r] @ right [r, cols]
  if (kind == JinaLoraKind::linear) {
    a = weights.load_checked(lora + "B", {1, rows, r}, f32)[0];
    b = weights.load_checked(lora + "A", {1, r, cols}, f32)[0];
  } else {
    a = weights.load_checked(lora + "A", {1, rows, r}, f32)[0];
    b = weights.load_checked(lora + "B", {1, r, cols}, f32)[0];
  }
  b = b * (config.lora_alpha / static_cast<double>(r));
  auto w = weights.load_checked(original, shape, options);
  // 65536 rows of the 1024-wide word embedding = 256 MiB of float32 at a time.
  const int64_t chunk = std::max<int64_t>(1, (int64_t{64} << 20) / std::max<int64_t>(cols, 1));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t n = std::min(chunk, rows - r0);
    auto part = w.narrow(0, r0, n);
    part.copy_(part.to(at::kFloat) + at::matmul(a.narrow(0, r0, n), b));
  }
  return w;
}

}  // namespace baton::models
