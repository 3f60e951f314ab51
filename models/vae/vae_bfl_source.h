#pragma once
// FLUX's original autoencoder file (BFL's ae.safetensors, also ComfyUI's
// vae/ae.safetensors) seen under the decoder's canonical names (spec E.3; the
// BFL layout is [I] there): decoder.mid.block_1/attn_1/block_2, attention
// q/k/v/proj_out as 1x1 conv weights [C, C, 1, 1] (served as [C, C]),
// decoder.up.{n-1-b}.block.{r} for up_blocks.{b}.resnets.{r} (reversed block
// index), nin_shortcut, upsample.conv, norm_out.
#include <map>
#include <string>
#include <vector>

#include "core/tensor_source.h"
#include "models/vae/vae_config.h"

namespace baton::models {

class BflVaeDecoderSource : public TensorSource {
 public:
  // `ae` holds the BFL names with their "decoder." prefix (encoder tensors are ignored).
  BflVaeDecoderSource(const TensorSource& ae, const VaeConfig& config);

  // True when `source` holds a decoder in the BFL layout.
  static bool recognises(const TensorSource& source);
  // The BFL name of a canonical decoder tensor name ("" for a name the decoder does not have).
  std::string bfl_name(const std::string& canonical) const;

  bool contains(const std::string& name) const override;
  std::vector<int64_t> shape(const std::string& name) const override;
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override;
  std::vector<std::string> names() const override;
  std::string describe() const override;

 private:
  const TensorSource& ae_;
  std::map<std::string, std::string> names_;  // canonical -> BFL
};

}  // namespace baton::models
