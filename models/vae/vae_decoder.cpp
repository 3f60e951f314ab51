#include "models/vae/vae_decoder.h"

#include <c10/core/InferenceMode.h>

#include "core/error.h"
#include "models/vae/vae_layers.h"
#include "models/vae/vae_tiling.h"

namespace baton::models {

struct VaeDecoder::Weights {
  vae::Conv conv_in;
  vae::Resnet mid_resnet0, mid_resnet1;
  std::optional<vae::Attention> mid_attention;
  std::vector<vae::UpBlock> up_blocks;
  vae::Norm norm_out;
  vae::Conv conv_out;
  int64_t bytes = 0;
};

namespace {

// Reads the decoder's tensors by canonical name, each checked against the
// shape the configuration predicts.
class WeightLoader {
 public:
  WeightLoader(const TensorSource& source, const VaeConfig& config, const at::TensorOptions& options)
      : source_(source), shapes_(vae_decoder_tensor_shapes(config)), options_(options) {}

  at::Tensor tensor(const std::string& name, const at::TensorOptions& options) {
    auto t = source_.load_checked(name, shapes_.at(name), options);
    bytes += t.numel() * static_cast<int64_t>(t.element_size());
    return t;
  }
  at::Tensor tensor(const std::string& name) { return tensor(name, options_); }
  vae::Conv conv(const std::string& p) { return {tensor(p + ".weight"), tensor(p + ".bias")}; }
  vae::Norm norm(const std::string& p) {
    const auto f32 = options_.dtype(at::kFloat);
    return {tensor(p + ".weight", f32), tensor(p + ".bias", f32)};
  }
  vae::Resnet resnet(const std::string& p) {
    vae::Resnet r{norm(p + ".norm1"), norm(p + ".norm2"), conv(p + ".conv1"), conv(p + ".conv2"), std::nullopt};
    if (shapes_.count(p + ".conv_shortcut.weight")) r.shortcut = conv(p + ".conv_shortcut");
    return r;
  }
  vae::Attention attention(const std::string& p) {
    return {norm(p + ".group_norm"), tensor(p + ".to_q.weight"), tensor(p + ".to_q.bias"),
            tensor(p + ".to_k.weight"), tensor(p + ".to_k.bias"), tensor(p + ".to_v.weight"),
            tensor(p + ".to_v.bias"), tensor(p + ".to_out.0.weight"), tensor(p + ".to_out.0.bias")};
  }

  int64_t bytes = 0;

 private:
  const TensorSource& source_;
  TensorShapes shapes_;
  at::TensorOptions options_;
};

}  // namespace

void check_vae_input(const at::Tensor& z, const VaeConfig& config, const char* what) {
  const std::string expected = "[B, " + std::to_string(config.latent_channels) + ", h, w]";
  require(z.defined(), std::string(what) + " is an undefined tensor; expected " + expected);
  const auto shape = format_shape(z.sizes().vec());
  require(z.dim() == 4, std::string(what) + " has shape " + shape + " (rank " + std::to_string(z.dim()) +
                            "); expected rank 4, " + expected);
  require(z.numel() > 0, std::string(what) + " has shape " + shape + " with an empty dimension; expected " +
                             expected + " with B, h, w >= 1");
  require(z.size(1) == config.latent_channels,
          std::string(what) + " has " + std::to_string(z.size(1)) + " channels (shape " + shape +
              "); the VAE config expects " + std::to_string(config.latent_channels) + ", " + expected,
          "is it a latent of another VAE? (SD 1.x/SDXL latents have 4 channels, FLUX latents 16)");
  require(c10::isFloatingType(z.scalar_type()),
          std::string(what) + " has dtype " + std::string(c10::toString(z.scalar_type())) +
              "; expected a floating-point tensor");
}

void check_dit_latent(const at::Tensor& latent, const VaeConfig& config) {
  check_vae_input(latent, config, "DiT latent");
  require(latent.size(2) % 2 == 0 && latent.size(3) % 2 == 0,
          "DiT latent has shape " + format_shape(latent.sizes().vec()) +
              ": its height and width must be even (image sides are multiples of 16, spec B.6)");
}

VaeDecoder::VaeDecoder(VaeConfig config, const TensorSource& weights, const at::TensorOptions& options)
    : config_(std::move(config)), device_(options.device()), dtype_(options.dtype().toScalarType()) {
  config_.validate();
  require(dtype_ == at::kFloat || dtype_ == at::kBFloat16,
          "VAE decoder dtype " + std::string(c10::toString(dtype_)) + " is not supported; expected float32 or bfloat16",
          "float16 overflows in the FLUX VAE (diffusers upcasts it to float32); use bf16 or fp32");
  c10::InferenceMode guard;
  WeightLoader load(weights, config_, options);
  auto w = std::make_unique<Weights>();
  w->conv_in = load.conv("conv_in");
  w->mid_resnet0 = load.resnet("mid_block.resnets.0");
  if (config_.mid_block_add_attention) w->mid_attention = load.attention("mid_block.attentions.0");
  w->mid_resnet1 = load.resnet("mid_block.resnets.1");
  const size_t levels = config_.block_out_channels.size();
  for (size_t b = 0; b < levels; ++b) {
    const std::string p = "up_blocks." + std::to_string(b);
    vae::UpBlock block;
    for (int64_t r = 0; r <= config_.layers_per_block; ++r)
      block.resnets.push_back(load.resnet(p + ".resnets." + std::to_string(r)));
    if (b + 1 < levels) block.upsample = load.conv(p + ".upsamplers.0.conv");
    w->up_blocks.push_back(std::move(block));
  }
  w->norm_out = load.norm("conv_norm_out");
  w->conv_out = load.conv("conv_out");
  w->bytes = load.bytes;
  weights_ = std::move(w);
}

VaeDecoder::~VaeDecoder() = default;
VaeDecoder::VaeDecoder(VaeDecoder&&) noexcept = default;
VaeDecoder& VaeDecoder::operator=(VaeDecoder&&) noexcept = default;

int64_t VaeDecoder::weight_bytes() const { return weights_->bytes; }

at::Tensor VaeDecoder::decode(const at::Tensor& z) const {
  check_vae_input(z, config_, "VAE input z");
  c10::InferenceMode guard;
  const auto& w = *weights_;
  const int64_t groups = config_.norm_num_groups;
  // `x = f(x)` keeps one activation alive between steps (vae_memory.cpp).
  at::Tensor x = w.conv_in(z.to(device_, dtype_));
  x = vae::resnet(x, w.mid_resnet0, groups);
  if (w.mid_attention) x = vae::attention(x, *w.mid_attention, groups);
  x = vae::resnet(x, w.mid_resnet1, groups);
  for (const auto& block : w.up_blocks) {
    for (const auto& r : block.resnets) x = vae::resnet(x, r, groups);
    if (block.upsample) {
      x = vae::upsample_nearest2x(x);
      x = (*block.upsample)(x);
    }
  }
  x = vae::group_norm(x, w.norm_out, groups, /*silu=*/true);
  return w.conv_out(x);
}

namespace {
// z = latent / scaling_factor + shift_factor in float32 (spec B.1), then the compute dtype.
at::Tensor latent_to_z(const at::Tensor& latent, const VaeConfig& c, at::Device device, at::ScalarType dtype) {
  return (latent.to(device, at::kFloat) / c.scaling_factor + c.shift_factor).to(dtype);
}
}  // namespace

at::Tensor VaeDecoder::decode_latent(const at::Tensor& latent) const {
  check_dit_latent(latent, config_);
  c10::InferenceMode guard;
  return decode(latent_to_z(latent, config_, device_, dtype_)).to(at::kFloat);
}

at::Tensor VaeDecoder::decode_latent_tiled(const at::Tensor& latent, const VaeTiling& tiling) const {
  check_dit_latent(latent, config_);
  c10::InferenceMode guard;
  return decode_tiled(latent_to_z(latent, config_, device_, dtype_), tiling, config_.upscale(),
                      [this](const at::Tensor& tile) { return decode(tile); });
}

}  // namespace baton::models
