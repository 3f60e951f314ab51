// Golden files of the sampler and of the whole denoising pipeline:
//  scheduler_*: diffusers' FlowMatchEulerDiscreteScheduler sigmas and timesteps
//               for several (shift, steps), "shift{S}_steps{N}.sigmas/.timesteps";
//  e2e_*:       the dit and vae golden models (files named in its config) driven
//               by that scheduler with guidance: out.latent after `steps` steps
//               and out.image01 = clamp(decode / 2 + 0.5).
#include <filesystem>
#include <regex>

#include "core/tensor_metrics.h"
#include "models/vae/vae_decoder.h"
#include "models/vae/vae_image.h"
#include "sampling/request_sampler.h"
#include "worker/dit_stage.h"
#include "worker/golden/golden_check.h"

namespace baton::worker {

GoldenKind scheduler_golden_kind() {
  GoldenKind kind;
  kind.name = "scheduler";
  kind.recognises = [](const nlohmann::json& config, const io::SafetensorsFile& file) {
    return config.value("note", std::string()).find("FlowMatchEulerDiscreteScheduler") != std::string::npos &&
           !file.contains("in.noise");
  };
  kind.check = [](const io::SafetensorsFile& file, const nlohmann::json&, const GoldenCheckOptions&) {
    static const std::regex name(R"(shift([0-9.]+)_steps([0-9]+)\.sigmas)");
    std::vector<GoldenOutput> out;
    for (const auto& n : file.names()) {
      std::smatch m;
      if (!std::regex_match(n, m, name)) continue;
      const std::string prefix = n.substr(0, n.size() - std::string(".sigmas").size());
      sampling::FlowMatchSchedule s(std::stoll(m[2]), std::stod(m[1]));
      const auto sigmas = at::tensor(s.sigmas(), at::kDouble);
      const auto timesteps = at::tensor(s.timesteps(), at::kDouble);
      // Sigmas are in [0, 1]; timesteps are sigma * 1000: compare both on the sigma scale.
      out.push_back({n, "max_abs", max_abs_error(sigmas, file.load(n, at::kDouble)), 1e-6});
      out.push_back({prefix + ".timesteps", "max_abs",
                     max_abs_error(timesteps / 1000.0, file.load(prefix + ".timesteps", at::kDouble) / 1000.0), 1e-6});
    }
    return out;
  };
  return kind;
}

GoldenKind e2e_golden_kind() {
  GoldenKind kind;
  kind.name = "e2e";
  kind.recognises = [](const nlohmann::json& config, const io::SafetensorsFile& file) {
    return config.contains("dit_file") && config.contains("vae_file") && file.contains("in.noise");
  };
  kind.check = [](const io::SafetensorsFile& file, const nlohmann::json& config, const GoldenCheckOptions& options) {
    namespace fs = std::filesystem;
    const auto dir = fs::path(file.path()).parent_path();
    io::SafetensorsFile dit_file((dir / config.at("dit_file").get<std::string>()).string());
    io::SafetensorsFile vae_file((dir / config.at("vae_file").get<std::string>()).string());
    const auto dit_config = models::NextDitConfig::from_json(nlohmann::json::parse(dit_file.metadata().at("config")));
    const auto vae_config = models::VaeConfig::from_json(nlohmann::json::parse(vae_file.metadata().at("config")));
    const auto opts = at::TensorOptions().device(options.device).dtype(options.dtype);

    sampling::GenerationRequest request;
    request.steps = config.at("steps");
    request.shift = config.at("shift");
    request.cfg_scale = config.at("cfg_scale");
    request.cfg_trunc = config.at("cfg_trunc");
    request.renorm_cfg = config.at("renorm_cfg");
    request.seed = config.at("seed");
    request.height = config.at("latent_hw")[0].get<int64_t>() * 8;
    request.width = config.at("latent_hw")[1].get<int64_t>() * 8;
    sampling::RequestSampler sampler(request);
    // The seeded noise must be the golden's torch.manual_seed noise.
    const double noise_error = max_abs_error(sampler.latent(), file.load("in.noise", at::kFloat));

    PrefixedSource dit_weights(dit_file, "weights.");
    DitStage dit(dit_config, dit_weights, {0, dit_config.n_layers, true, true}, opts);
    auto branch = [&](int64_t row) {
      const auto feats = file.load("in.cap_feats", at::kFloat)[row];
      const int64_t len = file.load("in.cap_mask", at::kLong)[row].sum().item<int64_t>();
      return CaptionInput{feats.narrow(0, 0, len), file.load("in.clip_text_pooled", at::kFloat)[row]};
    };
    dit.start_request(1, branch(0), branch(1));
    while (!sampler.done()) {
      const auto branches = sampler.with_uncond() ? std::vector<int64_t>{0, 1} : std::vector<int64_t>{0};
      sampler.advance(dit.finish_step(dit.run_blocks(dit.embed_step(1, sampler.latent(), sampler.model_time(), branches))));
    }
    PrefixedSource vae_weights(vae_file, "weights.decoder.");
    models::VaeDecoder vae(vae_config, vae_weights, opts);
    const auto image01 = models::image_to_unit(vae.decode_latent(sampler.latent())).cpu();
    const auto ref_latent = file.load("out.latent", at::kFloat);
    const bool fp32 = options.dtype == at::kFloat;
    return std::vector<GoldenOutput>{
        {"in.noise", "max_abs", noise_error, 0.0},
        {"out.latent", "rel_l2", relative_l2_error(sampler.latent(), ref_latent.view(sampler.latent().sizes())),
         default_rel_l2_tolerance(options.dtype)},
        // 1e-3 absolute in float32 (issue 7); bf16 drifts over the steps: 5e-2.
        {"out.image01", "max_abs", max_abs_error(image01, file.load("out.image01", at::kFloat).view(image01.sizes())),
         fp32 ? 1e-3 : 5e-2}};
  };
  return kind;
}

}  // namespace baton::worker
