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

GoldenOutput compare(const std::string& name, const at::Tensor& out, const at::Tensor& ref, double tolerance) {
  return {name, "rel_l2", relative_l2_error(out, ref), tolerance};
}

// In bf16/fp16 the two branches carry independent rounding errors, which
// v = v_u + s (v_c - v_u) amplifies by sqrt(s^2 + (1 - s)^2); the tolerance of
// a guided output grows by that factor. Float32 keeps its tolerance.
double guided_tolerance(at::ScalarType dtype, const sampling::GuidanceParams& params, double t) {
  const double tol = default_rel_l2_tolerance(dtype);
  if (dtype == at::kFloat || !sampling::guidance_active(params, t)) return tol;
  return tol * std::sqrt(params.scale * params.scale + (1 - params.scale) * (1 - params.scale));
}

std::vector<GoldenOutput> check_dit(const io::SafetensorsFile& file, const nlohmann::json& config,
                                    const GoldenCheckOptions& options) {
  const auto cfg = models::NextDitConfig::from_json(config);
  const PrefixedSource weights(file, "weights.");
  const models::NextDit dit(cfg, weights, at::TensorOptions().device(options.device).dtype(options.dtype));
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const auto x = file.load("in.x", f32);
  const auto t = file.load("in.t", f32);
  const auto cap_feats = file.load("in.cap_feats", f32);
  const auto cap_mask = file.load("in.cap_mask", at::TensorOptions().dtype(at::kLong));
  const auto clip = file.load("in.clip_text_pooled", f32);

  std::vector<GoldenOutput> outputs;
  outputs.push_back(compare("out.velocity", dit.forward(x, t, cap_feats, cap_mask, clip),
                            file.load("out.velocity", f32), default_rel_l2_tolerance(options.dtype)));

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
                              guided_tolerance(options.dtype, params, step_t)));
  }
  return outputs;
}

}  // namespace

GoldenKind dit_golden_kind() {
  return {"dit",
          [](const nlohmann::json&, const io::SafetensorsFile& file) {
            return file.contains("out.velocity") && file.contains("weights.x_embedder.weight");
          },
          check_dit};
}

}  // namespace baton::worker
