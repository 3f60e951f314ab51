#pragma once
// Loading a Jina weight with its LoRA adapter folded in (spec D.3).
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/tensor_source.h"
#include "models/jina/jina_config.h"

namespace baton::models {

enum class JinaLoraKind { linear, embedding };

// The weight of module `module` ("encoder.layers.0.mixer.Wqkv") with `shape`:
// when `module.parametrizations.weight.original` is present, merged as
//   Linear    W + B[0] · A[0] · alpha/rank   (A [1, r, in], B [1, out, r])
//   Embedding W + A[0] · B[0] · alpha/rank   (A [1, num, r], B [1, r, dim]);
// otherwise the plain `module.weight` (an already merged checkpoint).
// The delta is computed in float32, rows in chunks to bound the extra memory.
at::Tensor load_jina_weight(const JinaConfig& config, const TensorSource& weights, const std::string& module,
                            const std::vector<int64_t>& shape, JinaLoraKind kind, const at::TensorOptions& options);

}  // namespace baton::models
