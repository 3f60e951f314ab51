#pragma once
// Hyperparameters of the Next-DiT (NewBie `NextDiT_CLIP`), spec A.1, and the
// tensors a checkpoint of that shape holds (spec A.3, canonical names, no prefix).
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace baton::models {

using TensorShapes = std::map<std::string, std::vector<int64_t>>;

struct NextDitConfig {
  int64_t patch_size = 2;
  int64_t in_channels = 16;
  int64_t dim = 2304;
  int64_t n_layers = 36;
  int64_t n_refiner_layers = 2;
  int64_t n_heads = 24;
  int64_t n_kv_heads = 8;
  int64_t multiple_of = 256;
  std::optional<double> ffn_dim_multiplier;
  double norm_eps = 1e-5;
  bool qk_norm = true;
  int64_t cap_feat_dim = 2560;
  std::vector<int64_t> axes_dims{32, 32, 32};
  std::vector<int64_t> axes_lens{1024, 512, 512};
  double rope_theta = 10000.0;
  int64_t clip_text_dim = 1024;

  int64_t head_dim() const { return dim / n_heads; }
  int64_t adaln_dim() const { return dim < 1024 ? dim : 1024; }  // min(D, 1024)
  int64_t ffn_hidden() const;                                    // 4·D (× multiplier), rounded up
  int64_t patch_features() const { return patch_size * patch_size * in_channels; }

  // The released NewBie-image-Exp0.1 DiT.
  static NextDitConfig released();
  // Reads a transformer config.json (official key names). Keys it lacks keep
  // the released value; their names are appended to `defaulted`.
  static NextDitConfig from_json(const nlohmann::json& j, std::vector<std::string>* defaulted = nullptr);
  nlohmann::json to_json() const;
  // Throws Error when the numbers cannot describe a model (heads not dividing dim, ...).
  void validate() const;
};

// Every tensor of the checkpoint (535 for the released model), incl. the
// unused `norm_final.weight`.
TensorShapes nextdit_tensor_shapes(const NextDitConfig& config);

// The tensors of one block ("layers.7.", "noise_refiner.0.", "context_refiner.1.").
TensorShapes nextdit_block_shapes(const NextDitConfig& config, const std::string& prefix, bool modulated);

}  // namespace baton::models
