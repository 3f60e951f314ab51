#include "models/vae/vae_config.h"

#include <nlohmann/json.hpp>

#include "core/config_field.h"
#include "core/error.h"

namespace baton::models {
VaeConfig VaeConfig::released() { return VaeConfig{}; }

VaeConfig VaeConfig::from_json(const nlohmann::json& j, std::vector<std::string>* defaulted) {
  if (!j.is_object()) throw Error("vae config is not a JSON object");
  VaeConfig c;
  read_config_field(j, "latent_channels", c.latent_channels, defaulted, "vae");
  read_config_field(j, "out_channels", c.out_channels, defaulted, "vae");
  read_config_field(j, "block_out_channels", c.block_out_channels, defaulted, "vae");
  read_config_field(j, "layers_per_block", c.layers_per_block, defaulted, "vae");
  read_config_field(j, "norm_num_groups", c.norm_num_groups, defaulted, "vae");
  read_config_field(j, "mid_block_add_attention", c.mid_block_add_attention, defaulted, "vae");
  read_config_field(j, "scaling_factor", c.scaling_factor, defaulted, "vae");
  read_config_field(j, "shift_factor", c.shift_factor, defaulted, "vae");
  c.validate();
  return c;
}

nlohmann::json VaeConfig::to_json() const {
  return {{"_class_name", "AutoencoderKL"},
          {"latent_channels", latent_channels},
          {"in_channels", out_channels},
          {"out_channels", out_channels},
          {"block_out_channels", block_out_channels},
          {"layers_per_block", layers_per_block},
          {"norm_num_groups", norm_num_groups},
          {"mid_block_add_attention", mid_block_add_attention},
          {"use_quant_conv", false},
          {"use_post_quant_conv", false},
          {"act_fn", "silu"},
          {"scaling_factor", scaling_factor},
          {"shift_factor", shift_factor}};
}

void VaeConfig::validate() const {
  auto bad = [](const std::string& what) { throw Error("vae config: " + what); };
  if (block_out_channels.empty() || block_out_channels.size() > 8) bad("block_out_channels needs 1 to 8 entries");
  if (latent_channels <= 0 || out_channels <= 0 || layers_per_block < 0 || norm_num_groups <= 0)
    bad("sizes must be positive");
  for (auto ch : block_out_channels)
    if (ch <= 0 || ch % norm_num_groups) bad("every block_out_channels entry must be a multiple of norm_num_groups");
}

TensorShapes vae_decoder_tensor_shapes(const VaeConfig& c) {
  TensorShapes s;
  auto conv = [&s](const std::string& p, int64_t out, int64_t in, int64_t k) {
    s[p + ".weight"] = {out, in, k, k};
    s[p + ".bias"] = {out};
  };
  auto norm = [&s](const std::string& p, int64_t ch) {
    s[p + ".weight"] = {ch};
    s[p + ".bias"] = {ch};
  };
  auto resnet = [&](const std::string& p, int64_t in, int64_t out) {
    norm(p + ".norm1", in);
    conv(p + ".conv1", out, in, 3);
    norm(p + ".norm2", out);
    conv(p + ".conv2", out, out, 3);
    if (in != out) conv(p + ".conv_shortcut", out, in, 1);
  };
  std::vector<int64_t> rev(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  const int64_t top = rev.front();
  conv("conv_in", top, c.latent_channels, 3);
  resnet("mid_block.resnets.0", top, top);
  if (c.mid_block_add_attention) {
    norm("mid_block.attentions.0.group_norm", top);
    for (const char* n : {"to_q", "to_k", "to_v", "to_out.0"}) {
      s[std::string("mid_block.attentions.0.") + n + ".weight"] = {top, top};
      s[std::string("mid_block.attentions.0.") + n + ".bias"] = {top};
    }
  }
  resnet("mid_block.resnets.1", top, top);
  int64_t in = top;
  for (size_t b = 0; b < rev.size(); ++b) {
    const int64_t out = rev[b];
    for (int64_t r = 0; r <= c.layers_per_block; ++r) {
      resnet("up_blocks." + std::to_string(b) + ".resnets." + std::to_string(r), r == 0 ? in : out, out);
    }
    if (b + 1 < rev.size()) conv("up_blocks." + std::to_string(b) + ".upsamplers.0.conv", out, out, 3);
    in = out;
  }
  norm("conv_norm_out", rev.back());
  conv("conv_out", c.out_channels, rev.back(), 3);
  return s;
}

}  // namespace baton::models
