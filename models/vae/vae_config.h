#pragma once
// FLUX VAE decoder hyperparameters (spec E.1) and its tensors (spec E.3,
// canonical names = diffusers names without the "decoder." prefix).
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/nextdit/nextdit_config.h"  // TensorShapes

namespace baton::models {

struct VaeConfig {
  int64_t latent_channels = 16;
  int64_t out_channels = 3;
  std::vector<int64_t> block_out_channels{128, 256, 512, 512};
  int64_t layers_per_block = 2;
  int64_t norm_num_groups = 32;
  bool mid_block_add_attention = true;
  double scaling_factor = 0.3611;
  double shift_factor = 0.1159;

  // Spatial upsampling of the decoder: 2^(len(block_out_channels) - 1) (8 for FLUX).
  int64_t upscale() const { return int64_t(1) << (block_out_channels.size() - 1); }

  static VaeConfig released();
  static VaeConfig from_json(const nlohmann::json& j, std::vector<std::string>* defaulted = nullptr);
  nlohmann::json to_json() const;
  void validate() const;
};

// Decoder tensors only (the encoder is never loaded).
TensorShapes vae_decoder_tensor_shapes(const VaeConfig& config);

}  // namespace baton::models
