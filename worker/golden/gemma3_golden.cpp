// `baton verify` for gemma3_* golden files: hidden_states[-2] of the Gemma3 text
// model (spec C.3) on the rows inside the attention mask.
#include "core/tensor_metrics.h"
#include "core/tensor_source.h"
#include "models/gemma3/gemma3_text_model.h"
#include "worker/golden/golden_check.h"

namespace baton::worker {
namespace {

// gemma3_a in float32 measures 2.5e-2 (int8) and 0.114 (fp8); fp8 on the FP8
// matrix units also quantises the activations (about 0.16, emulated). Its
// layer outputs are large next to the residual stream, so weight errors show.
constexpr QuantizationAllowance kAllowance{5e-2, 0.25};

}  // namespace

GoldenKind gemma3_golden_kind() {
  GoldenKind kind;
  kind.name = "gemma3";
  kind.has_8bit_weights = true;
  kind.recognises = [](const nlohmann::json&, const io::SafetensorsFile& file) {
    return file.contains("out.hidden_states_m2") && file.contains("in.input_ids") &&
           file.contains("in.attention_mask");
  };
  kind.check = [](const io::SafetensorsFile& file, const nlohmann::json& config, const GoldenCheckOptions& options) {
    const auto cfg = models::Gemma3Config::from_json(config);
    PrefixedSource weights(file, "weights.language_model.model.");
    models::Gemma3TextModel model(cfg, weights, at::TensorOptions().device(options.device).dtype(options.dtype), {},
                                  options.weights);
    const auto cpu_long = at::TensorOptions().dtype(at::kLong);
    auto ids = file.load("in.input_ids", cpu_long);
    auto mask = file.load("in.attention_mask", cpu_long);
    auto out = model.forward(ids, mask).to(at::kCPU, at::kFloat);
    auto ref = file.load("out.hidden_states_m2", at::TensorOptions().dtype(at::kFloat));
    auto real = mask.to(at::kBool);  // rows past the mask are don't-care
    GoldenOutput o;
    o.name = "out.hidden_states_m2";
    o.metric = "rel_l2";
    o.error = relative_l2_error(out.index({real}), ref.index({real}));
    o.tolerance = rel_l2_tolerance(options.dtype, options.weights, kAllowance);
    return std::vector<GoldenOutput>{o};
  };
  return kind;
}

}  // namespace baton::worker
