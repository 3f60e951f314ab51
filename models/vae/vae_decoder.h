#pragma once
// The FLUX VAE decoder (spec E.2): conv_in, mid block (resnet, single-head
// attention, resnet), up blocks (resnets + nearest x2 upsample + conv),
// GroupNorm + SiLU + conv_out. Weights by canonical name (diffusers decoder
// names without "decoder.", see vae_decoder_tensor_shapes).
#include <ATen/ATen.h>

#include <memory>

#include "core/tensor_source.h"
#include "models/vae/vae_config.h"

namespace baton::models {

struct VaeTiling;

class VaeDecoder {
 public:
  // Loads every decoder tensor from `weights` (shape-checked against the
  // config) onto `options`' device in its dtype: float32 or bfloat16 (float16
  // is refused: the FLUX VAE overflows in it, which is why diffusers upcasts).
  // GroupNorm affine parameters are kept in float32.
  VaeDecoder(VaeConfig config, const TensorSource& weights, const at::TensorOptions& options);
  ~VaeDecoder();
  VaeDecoder(VaeDecoder&&) noexcept;
  VaeDecoder& operator=(VaeDecoder&&) noexcept;

  const VaeConfig& config() const { return config_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  // Bytes the loaded weights occupy on the device.
  int64_t weight_bytes() const;

  // The raw decoder: z [B, latent_channels, h, w] -> image [B, out_channels,
  // h*upscale, w*upscale] in about [-1, 1], in dtype() on device(). Any h, w >= 1.
  at::Tensor decode(const at::Tensor& z) const;

  // The pipeline's entry point: the DiT latent [B, latent_channels, h, w] (h, w
  // even, any float dtype and device) -> z = latent / scaling_factor +
  // shift_factor (spec B.1, E.2) -> decode. Returns float32 on device().
  at::Tensor decode_latent(const at::Tensor& latent) const;

  // decode_latent in overlapping tiles blended across the seams (vae_tiling.h).
  // A tiling that covers the whole latent is exactly decode_latent.
  at::Tensor decode_latent_tiled(const at::Tensor& latent, const VaeTiling& tiling) const;

 private:
  struct Weights;
  VaeConfig config_;
  at::Device device_ = at::kCPU;
  at::ScalarType dtype_ = at::kFloat;
  std::unique_ptr<const Weights> weights_;
};

// Refuses what the raw decoder cannot take: undefined, not rank 4
// ([B, C, h, w]), an empty dimension, C != config.latent_channels, or a
// non-floating dtype. `what` names the input in the message.
void check_vae_input(const at::Tensor& z, const VaeConfig& config, const char* what);
// check_vae_input plus what a DiT latent must be: h and w even (image sides
// are multiples of 16, spec B.6).
void check_dit_latent(const at::Tensor& latent, const VaeConfig& config);

}  // namespace baton::models
