// Golden kind "dit": the Next-DiT forward and forward_with_cfg against tensors
// from the official NextDiT_CLIP (tests/data/dit_a.safetensors, GOLDEN.md).
#include <ATen/ATen.h>

#include <cmath>

#include "core/error.h"
#include "core/tensor_metrics.h"
#include "core/tensor_source.h"
#include "models/nextdit/next_dit.h"
#include "sampling/classifier_free_guidance.h"
#include "worker/golden/golden_check.h"

namespace baton::worker {
namespace {

// dit_a in float32 measures 5.0e-3 (int8) and 2.1e-2 (fp8) on the velocity, up
// to 8.1e-3 and 3.8e-2 guided; fp8 on the FP8 matrix units also quantises the
// activations (about 2.7e-2 on the velocity, emulated).
constexpr QuantizationAllowance kAllowance{1.5e-2, 5e-2};

GoldenOutput compare(const std::string& name, const at::Tensor& out, const at::Tensor& ref, double tolerance) {
  return {name, "rel_l2", relative_l2_error(out, ref), tolerance};
}

// In bf16/fp16 the two branches carry independent rounding errors, which
// v = v_u + s (v_c - v_u) amplifies by sqrt(s^2 + (1 - s)^2); the dtype's part
// of a guided output's tolerance grows by that factor. Float32 keeps its
// tolerance, and so does the 8-bit allowance: both branches see the same
// quantised weights (dit_a fp8: guided errors at most 1.8x the velocity's,
// far below the 6.4x of independent errors).
double guided_tolerance(const GoldenCheckOptions& options, const sampling::GuidanceParams& params, double t) {
  const double dense = default_rel_l2_tolerance(options.dtype);
  const double allowance = rel_l2_tolerance(options.dtype, options.weights, kAllowance) - dense;
  if (options.dtype == at::kFloat || !sampling::guidance_active(params, t)) return dense + allowance;
  return dense * std::sqrt(params.scale * params.scale + (1 - params.scale) * (1 - params.scale)) + allowance;
}

std::vector<GoldenOutput> check_dit(const io::SafetensorsFile& file, const nlohmann::json& config,
                                    const GoldenCheckOptions& options) {
  const auto cfg = models::NextDitConfig::from_json(config);
  const PrefixedSource weights(file, "weights.");
  const models::NextDit dit(cfg, weights, at::TensorOptions().device(options.device).dtype(options.dtype),
                            options.weights);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const auto x = file.load("in.x", f32);
  const auto t = file.load("in.t", f32);
  const auto cap_feats = file.load("in.cap_feats", f32);
  const auto cap_mask = file.load("in.cap_mask", at::TensorOptions().dtype(at::kLong));
  const auto clip = file.load("in.clip_text_pooled", f32);

  std::vector<GoldenOutput> outputs;
  outputs.push_back(compare("out.velocity", dit.forward(x, t, cap_feats, cap_mask, clip),
                            file.load("out.velocity", f32), rel_l2_tolerance(options.dtype, options.weights, kAllowance)));

  // forward_with_cfg: cond = row 0, uncond = row 1, latent = x[0] for both.
  const auto captions = dit.embed().encode_captions(cap_feats, cap_mask);  // once, as per request
  const auto latent = x.narrow(0, 0, 1);
  for (const std::string name : {"cfg_a", "cfg_b", "cfg_trunc"}) {
    if (!file.contains(name + ".params")) continue;
    const auto p = file.load(name + ".params", f32).to(at::kDouble).contiguous();
    require(p.numel() == 4, file.path() + ": " + name + ".params must hold [cfg_scale, cfg_trunc, renorm_cfg, t]");
    const double* v = p.data_ptr<double>();
    const sampling::GuidanceParams params{v[0], v[1], v[2]};
    const double step_t = v[3];
    auto velocities = [&](bool with_uncond) {
      const int64_t n = with_uncond ? 2 : 1;
      return dit.forward(latent.expand({n, -1, -1, -1}), at::full({n}, step_t, f32), clip.narrow(0, 0, n),
                         with_uncond ? captions : captions.select({0}));
    };
    const auto guided = sampling::guided_velocity(step_t, params, velocities);
    outputs.push_back(compare(name + ".out", guided.squeeze(0), file.load(name + ".out", f32),
                              guided_tolerance(options, params, step_t)));
  }
  return outputs;
}

}  // namespace

GoldenKind dit_golden_kind() {
  GoldenKind kind;
  kind.name = "dit";
  kind.has_8bit_weights = true;
  kind.recognises = [](const nlohmann::json&, const io::SafetensorsFile& file) {
    return file.contains("out.velocity") && file.contains("weights.x_embedder.weight");
  };
  kind.check = check_dit;
  return kind;
}

}  // namespace baton::worker
