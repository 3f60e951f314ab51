// Golden files of the VAE decoder (tests/data/vae_a.safetensors): weights under
// "weights.decoder.", in.latent [B, 16, h, w], out.image = decode(latent /
// scaling_factor + shift_factor) from diffusers' AutoencoderKL.
#include "core/tensor_metrics.h"
#include "models/vae/vae_decoder.h"
#include "worker/golden/golden_check.h"

namespace baton::worker {

GoldenKind vae_golden_kind() {
  GoldenKind kind;
  kind.name = "vae";
  kind.recognises = [](const nlohmann::json& config, const io::SafetensorsFile& file) {
    return config.is_object() && config.contains("block_out_channels") && config.contains("latent_channels") &&
           file.contains("in.latent") && file.contains("out.image");
  };
  kind.check = [](const io::SafetensorsFile& file, const nlohmann::json& config, const GoldenCheckOptions& options) {
    const auto vae_config = models::VaeConfig::from_json(config);
    PrefixedSource weights(file, "weights.decoder.");
    models::VaeDecoder decoder(vae_config, weights, at::TensorOptions().device(options.device).dtype(options.dtype));
    const auto image = decoder.decode_latent(file.load("in.latent", at::TensorOptions().dtype(at::kFloat)));
    const auto expected = file.load("out.image", at::TensorOptions().dtype(at::kFloat));
    return std::vector<GoldenOutput>{
        {"out.image", "rel_l2", relative_l2_error(image.cpu(), expected), default_rel_l2_tolerance(options.dtype)}};
  };
  return kind;
}

}  // namespace baton::worker
