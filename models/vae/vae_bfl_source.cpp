#include "models/vae/vae_bfl_source.h"

#include "core/error.h"

namespace baton::models {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string resnet_part(const std::string& rest) {
  return starts_with(rest, "conv_shortcut.") ? "nin_shortcut." + rest.substr(14) : rest;
}

// canonical -> BFL for one name; "" if the pattern is unknown.
std::string to_bfl(const std::string& name, size_t levels) {
  if (starts_with(name, "conv_in.") || starts_with(name, "conv_out.")) return "decoder." + name;
  if (starts_with(name, "conv_norm_out.")) return "decoder.norm_out." + name.substr(14);
  if (starts_with(name, "mid_block.resnets.")) {
    const std::string rest = name.substr(18);  // "0.norm1.weight"
    const char index = rest[0];
    if ((index != '0' && index != '1') || rest.size() < 3 || rest[1] != '.') return {};
    return std::string("decoder.mid.block_") + (index == '0' ? "1." : "2.") + resnet_part(rest.substr(2));
  }
  if (starts_with(name, "mid_block.attentions.0.")) {
    static const std::map<std::string, std::string> parts{
        {"group_norm.", "norm."}, {"to_q.", "q."}, {"to_k.", "k."}, {"to_v.", "v."}, {"to_out.0.", "proj_out."}};
    const std::string rest = name.substr(23);
    for (const auto& [from, to] : parts)
      if (starts_with(rest, from)) return "decoder.mid.attn_1." + to + rest.substr(from.size());
    return {};
  }
  if (starts_with(name, "up_blocks.")) {
    const auto dot = name.find('.', 10);
    if (dot == std::string::npos) return {};
    const size_t block = std::stoul(name.substr(10, dot - 10));
    if (block >= levels) return {};
    const std::string up = "decoder.up." + std::to_string(levels - 1 - block) + ".";
    const std::string rest = name.substr(dot + 1);
    if (starts_with(rest, "resnets.")) {
      const auto rdot = rest.find('.', 8);
      if (rdot == std::string::npos) return {};
      return up + "block." + rest.substr(8, rdot - 8) + "." + resnet_part(rest.substr(rdot + 1));
    }
    if (starts_with(rest, "upsamplers.0.conv.")) return up + "upsample.conv." + rest.substr(18);
  }
  return {};
}

bool is_attention_matrix(const std::string& canonical) {
  return starts_with(canonical, "mid_block.attentions.0.to_") && canonical.size() > 7 &&
         canonical.compare(canonical.size() - 7, 7, ".weight") == 0;
}

}  // namespace

BflVaeDecoderSource::BflVaeDecoderSource(const TensorSource& ae, const VaeConfig& config) : ae_(ae) {
  for (const auto& kv : vae_decoder_tensor_shapes(config)) {
    const auto bfl = to_bfl(kv.first, config.block_out_channels.size());
    if (bfl.empty()) throw Error("BFL VAE layout: no mapping for decoder tensor " + kv.first);  // a bug, not input
    names_[kv.first] = bfl;
  }
}

bool BflVaeDecoderSource::recognises(const TensorSource& source) {
  return source.contains("decoder.mid.block_1.conv1.weight") && source.contains("decoder.conv_in.weight");
}

std::string BflVaeDecoderSource::bfl_name(const std::string& canonical) const {
  auto it = names_.find(canonical);
  return it == names_.end() ? std::string() : it->second;
}

bool BflVaeDecoderSource::contains(const std::string& name) const {
  auto it = names_.find(name);
  return it != names_.end() && ae_.contains(it->second);
}

std::vector<int64_t> BflVaeDecoderSource::shape(const std::string& name) const {
  const auto bfl = bfl_name(name);
  if (bfl.empty()) throw Error(describe() + ": tensor " + name + " is not part of the VAE decoder");
  auto s = ae_.shape(bfl);
  if (is_attention_matrix(name) && s.size() == 4 && s[2] == 1 && s[3] == 1) s.resize(2);  // 1x1 conv -> linear
  return s;
}

at::Tensor BflVaeDecoderSource::load(const std::string& name, const at::TensorOptions& options) const {
  const auto bfl = bfl_name(name);
  if (bfl.empty()) throw Error(describe() + ": tensor " + name + " is not part of the VAE decoder");
  auto t = ae_.load(bfl, options);
  if (is_attention_matrix(name) && t.dim() == 4) t = t.flatten(1);
  return t;
}

std::vector<std::string> BflVaeDecoderSource::names() const {
  std::vector<std::string> out;
  for (const auto& kv : names_)
    if (ae_.contains(kv.second)) out.push_back(kv.first);
  return out;
}

std::string BflVaeDecoderSource::describe() const { return ae_.describe() + " (BFL autoencoder layout)"; }

}  // namespace baton::models
