// `baton verify` for jina_* golden files: the pooled vector of the Jina CLIP v2
// text tower (spec D.2) from LoRA-parametrized weights (merged at load, D.3).
#include "core/tensor_metrics.h"
#include "core/tensor_source.h"
#include "models/jina/jina_text_model.h"
#include "worker/golden/golden_check.h"

namespace baton::worker {

GoldenKind jina_golden_kind() {
  GoldenKind kind;
  kind.name = "jina";
  kind.recognises = [](const nlohmann::json&, const io::SafetensorsFile& file) {
    return file.contains("out.pooled") && file.contains("in.input_ids");
  };
  kind.check = [](const io::SafetensorsFile& file, const nlohmann::json& config, const GoldenCheckOptions& options) {
    const auto cfg = models::JinaConfig::from_json(config);
    PrefixedSource weights(file, "weights.text_model.transformer.roberta.");
    models::JinaTextModel model(cfg, weights, at::TensorOptions().device(options.device).dtype(options.dtype));
    auto ids = file.load("in.input_ids", at::TensorOptions().dtype(at::kLong));
    auto out = model.pooled(ids).to(at::kCPU, at::kFloat);
    auto ref = file.load("out.pooled", at::TensorOptions().dtype(at::kFloat));
    GoldenOutput o;
    o.name = "out.pooled";
    o.metric = "rel_l2";
    o.error = relative_l2_error(out, ref);
    o.tolerance = default_rel_l2_tolerance(options.dtype);
    return std::vector<GoldenOutput>{o};
  };
  return kind;
}

}  // namespace baton::worker
