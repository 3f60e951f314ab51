#include "io/tensor_naming.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace baton::io {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Reads "<digits>." at `pos`; returns the number and moves `pos` past the dot.
std::optional<int> read_index(const std::string& s, size_t& pos) {
  size_t end = pos;
  while (end < s.size() && end - pos < 6 && s[end] >= '0' && s[end] <= '9') ++end;
  if (end == pos || end >= s.size() || s[end] != '.') return std::nullopt;
  const int v = std::stoi(s.substr(pos, end - pos));
  pos = end + 1;
  return v;
}

class PrefixNaming : public TensorNaming {
 public:
  explicit PrefixNaming(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string describe() const override { return prefix_.empty() ? "no prefix" : "prefix '" + prefix_ + "'"; }
  std::optional<TensorPart> to_canonical(const std::string& f) const override {
    if (!starts_with(f, prefix_) || f.size() == prefix_.size()) return std::nullopt;
    return TensorPart{f.substr(prefix_.size())};
  }
  std::vector<std::string> to_file(const std::string& c) const override { return {prefix_ + c}; }

 private:
  std::string prefix_;
};

// ---- diffusers Lumina2 (spec A.3, "Possible name variants") ----

struct Rename {
  const char* canonical;
  const char* file;
};
// Global tensors: prefix substitutions.
constexpr Rename kLuminaGlobal[] = {
    {"x_embedder.", "x_embedder."},
    {"cap_embedder.", "time_caption_embed.caption_embedder."},
    {"t_embedder.mlp.0.", "time_caption_embed.timestep_embedder.linear_1."},
    {"t_embedder.mlp.2.", "time_caption_embed.timestep_embedder.linear_2."},
    {"clip_text_pooled_proj.", "time_caption_embed.clip_text_pooled_proj."},
    {"time_text_embed.", "time_caption_embed.time_text_embed."},
    {"final_layer.adaLN_modulation.1.", "norm_out.linear_1."},
    {"final_layer.linear.", "norm_out.linear_2."},
};
// Inside a block: whole-suffix renames.
constexpr Rename kLuminaBlock[] = {
    {"attention.out.weight", "attn.to_out.0.weight"},
    {"attention.q_norm.weight", "attn.norm_q.weight"},
    {"attention.k_norm.weight", "attn.norm_k.weight"},
    {"feed_forward.w1.weight", "feed_forward.linear_1.weight"},
    {"feed_forward.w2.weight", "feed_forward.linear_2.weight"},
    {"feed_forward.w3.weight", "feed_forward.linear_3.weight"},
    {"ffn_norm1.weight", "ffn_norm1.weight"},
    {"ffn_norm2.weight", "ffn_norm2.weight"},
};
constexpr Rename kLuminaModulated[] = {
    {"attention_norm1.weight", "norm1.norm.weight"},
    {"attention_norm2.weight", "norm2.weight"},
    {"adaLN_modulation.1.weight", "norm1.linear.weight"},
    {"adaLN_modulation.1.bias", "norm1.linear.bias"},
};
constexpr Rename kLuminaUnmodulated[] = {
    {"attention_norm1.weight", "norm1.weight"},
    {"attention_norm2.weight", "norm2.weight"},
};
constexpr const char* kQkvParts[] = {"attn.to_q.weight", "attn.to_k.weight", "attn.to_v.weight"};
constexpr const char* kBlockKinds[] = {"layers.", "noise_refiner.", "context_refiner."};

class Lumina2Naming : public TensorNaming {
 public:
  std::string describe() const override { return "diffusers Lumina2 names"; }

  std::optional<TensorPart> to_canonical(const std::string& f) const override {
    for (const char* kind : kBlockKinds) {
      if (!starts_with(f, kind)) continue;
      size_t pos = std::char_traits<char>::length(kind);
      if (!read_index(f, pos)) return std::nullopt;
      const std::string block = f.substr(0, pos), rest = f.substr(pos);
      for (int i = 0; i < 3; ++i)
        if (rest == kQkvParts[i]) return TensorPart{block + "attention.qkv.weight", i, 3};
      for (const auto& r : kLuminaBlock)
        if (rest == r.file) return TensorPart{block + r.canonical};
      const bool modulated = std::string(kind) != "context_refiner.";
      for (const auto& r : modulated ? std::vector<Rename>(std::begin(kLuminaModulated), std::end(kLuminaModulated))
                                     : std::vector<Rename>(std::begin(kLuminaUnmodulated), std::end(kLuminaUnmodulated)))
        if (rest == r.file) return TensorPart{block + r.canonical};
      return std::nullopt;
    }
    for (const auto& r : kLuminaGlobal)
      if (starts_with(f, r.file)) return TensorPart{r.canonical + f.substr(std::char_traits<char>::length(r.file))};
    return std::nullopt;
  }

  std::vector<std::string> to_file(const std::string& c) const override {
    for (const char* kind : kBlockKinds) {
      if (!starts_with(c, kind)) continue;
      size_t pos = std::char_traits<char>::length(kind);
      if (!read_index(c, pos)) return {};
      const std::string block = c.substr(0, pos), rest = c.substr(pos);
      if (rest == "attention.qkv.weight") return {block + kQkvParts[0], block + kQkvParts[1], block + kQkvParts[2]};
      for (const auto& r : kLuminaBlock)
        if (rest == r.canonical) return {block + r.file};
      const bool modulated = std::string(kind) != "context_refiner.";
      if (modulated) {
        for (const auto& r : kLuminaModulated)
          if (rest == r.canonical) return {block + r.file};
      } else {
        for (const auto& r : kLuminaUnmodulated)
          if (rest == r.canonical) return {block + r.file};
      }
      return {};
    }
    for (const auto& r : kLuminaGlobal)
      if (starts_with(c, r.canonical)) return {r.file + c.substr(std::char_traits<char>::length(r.canonical))};
    return {};  // norm_final.weight: dropped by the diffusers conversion
  }
};

// ---- BFL ae.safetensors decoder (spec E.3) ----

// Inside a resnet only the shortcut is renamed.
std::string resnet_to_bfl(const std::string& rest) {
  return starts_with(rest, "conv_shortcut.") ? "nin_shortcut." + rest.substr(14) : rest;
}
std::string resnet_from_bfl(const std::string& rest) {
  return starts_with(rest, "nin_shortcut.") ? "conv_shortcut." + rest.substr(13) : rest;
}

constexpr Rename kBflAttention[] = {
    {"group_norm.", "norm."}, {"to_q.", "q."}, {"to_k.", "k."}, {"to_v.", "v."}, {"to_out.0.", "proj_out."}};

class BflVaeNaming : public TensorNaming {
 public:
  explicit BflVaeNaming(int up_blocks) : n_(up_blocks) {}
  std::string describe() const override { return "BFL ae.safetensors names"; }

  std::optional<TensorPart> to_canonical(const std::string& f) const override {
    if (!starts_with(f, "decoder.")) return std::nullopt;
    const std::string s = f.substr(8);
    for (const char* top : {"conv_in.", "conv_out."})
      if (starts_with(s, top)) return TensorPart{s};
    if (starts_with(s, "norm_out.")) return TensorPart{"conv_norm_out." + s.substr(9)};
    if (starts_with(s, "mid.block_1.")) return TensorPart{"mid_block.resnets.0." + resnet_from_bfl(s.substr(12))};
    if (starts_with(s, "mid.block_2.")) return TensorPart{"mid_block.resnets.1." + resnet_from_bfl(s.substr(12))};
    if (starts_with(s, "mid.attn_1.")) {
      const std::string rest = s.substr(11);
      for (const auto& r : kBflAttention)
        if (starts_with(rest, r.file)) {
          const std::string tail = rest.substr(std::char_traits<char>::length(r.file));
          TensorPart p{"mid_block.attentions.0." + std::string(r.canonical) + tail};
          p.conv1x1 = tail == "weight" && std::string(r.file) != "norm.";
          return p;
        }
      return std::nullopt;
    }
    if (starts_with(s, "up.")) {
      size_t pos = 3;
      auto level = read_index(s, pos);
      if (!level || *level >= n_) return std::nullopt;
      const std::string block = "up_blocks." + std::to_string(n_ - 1 - *level) + ".";
      const std::string rest = s.substr(pos);
      if (starts_with(rest, "block.")) {
        size_t p2 = 6;
        auto r = read_index(rest, p2);
        if (!r) return std::nullopt;
        return TensorPart{block + "resnets." + std::to_string(*r) + "." + resnet_from_bfl(rest.substr(p2))};
      }
      if (starts_with(rest, "upsample.conv.")) return TensorPart{block + "upsamplers.0.conv." + rest.substr(14)};
    }
    return std::nullopt;
  }

  std::vector<std::string> to_file(const std::string& c) const override {
    for (const char* top : {"conv_in.", "conv_out."})
      if (starts_with(c, top)) return {"decoder." + c};
    if (starts_with(c, "conv_norm_out.")) return {"decoder.norm_out." + c.substr(14)};
    if (starts_with(c, "mid_block.resnets.0.")) return {"decoder.mid.block_1." + resnet_to_bfl(c.substr(20))};
    if (starts_with(c, "mid_block.resnets.1.")) return {"decoder.mid.block_2." + resnet_to_bfl(c.substr(20))};
    if (starts_with(c, "mid_block.attentions.0.")) {
      const std::string rest = c.substr(23);
      for (const auto& r : kBflAttention)
        if (starts_with(rest, r.canonical))
          return {"decoder.mid.attn_1." + std::string(r.file) + rest.substr(std::char_traits<char>::length(r.canonical))};
      return {};
    }
    if (starts_with(c, "up_blocks.")) {
      size_t pos = 10;
      auto b = read_index(c, pos);
      if (!b || *b >= n_) return {};
      const std::string level = "decoder.up." + std::to_string(n_ - 1 - *b) + ".";
      const std::string rest = c.substr(pos);
      if (starts_with(rest, "resnets.")) {
        size_t p2 = 8;
        auto r = read_index(rest, p2);
        if (!r) return {};
        return {level + "block." + std::to_string(*r) + "." + resnet_to_bfl(rest.substr(p2))};
      }
      if (starts_with(rest, "upsamplers.0.conv.")) return {level + "upsample.conv." + rest.substr(18)};
    }
    return {};
  }

 private:
  int n_;
};

bool has(const std::vector<std::string>& names, const std::string& n) {
  return std::binary_search(names.begin(), names.end(), n);
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "'" : ", '") + s + "'";
  return out;
}

// The first prefix under which one of `probes` exists.
std::unique_ptr<TensorNaming> detect_prefix(const std::vector<std::string>& unsorted, const std::vector<std::string>& prefixes,
                                            const std::vector<std::string>& probes, const std::string& where,
                                            const std::string& network) {
  std::vector<std::string> names = unsorted;
  std::sort(names.begin(), names.end());
  for (const auto& p : prefixes)
    for (const auto& probe : probes)
      if (has(names, p + probe)) return prefix_naming(p);
  throw Error(where + ": holds no " + network + " tensors (looked for " + probes.front() + " under the prefixes " +
                  joined(prefixes) + ")",
              "is this the right file for the " + network + "?");
}

}  // namespace

std::unique_ptr<TensorNaming> prefix_naming(const std::string& prefix) { return std::make_unique<PrefixNaming>(prefix); }
std::unique_ptr<TensorNaming> lumina2_naming() { return std::make_unique<Lumina2Naming>(); }
std::unique_ptr<TensorNaming> bfl_vae_naming(int up_blocks) { return std::make_unique<BflVaeNaming>(up_blocks); }

const std::vector<std::string>& dit_prefixes() {
  // [I] spec A.3: ComfyUI-style files may carry model.diffusion_model.; a
  // save of the diffusers wrapper class would carry inner_model.
  static const std::vector<std::string> p{"model.diffusion_model.", "inner_model.", ""};
  return p;
}
const std::vector<std::string>& gemma_prefixes() {
  static const std::vector<std::string> p{"language_model.model.", "model.language_model.", "language_model.", "model.", ""};
  return p;
}
const std::vector<std::string>& jina_prefixes() {
  // ComfyUI stores its XLMRobertaModel wrapper's "model." names (comfy/sd.py
  // detects the file by model.encoder.layers.0.mixer.Wqkv.weight).
  static const std::vector<std::string> p{"text_model.transformer.roberta.", "model.", ""};
  return p;
}

std::unique_ptr<TensorNaming> detect_dit_naming(const std::vector<std::string>& names, const std::string& where) {
  for (const auto& n : names)
    if (n == "time_caption_embed.caption_embedder.1.weight") return lumina2_naming();
  return detect_prefix(names, dit_prefixes(), {"x_embedder.weight"}, where, "Next-DiT");
}

std::unique_ptr<TensorNaming> detect_gemma_naming(const std::vector<std::string>& names, const std::string& where) {
  return detect_prefix(names, gemma_prefixes(), {"embed_tokens.weight", "layers.0.input_layernorm.weight"}, where,
                       "Gemma3 text model");
}

std::unique_ptr<TensorNaming> detect_jina_naming(const std::vector<std::string>& names, const std::string& where) {
  return detect_prefix(names, jina_prefixes(), {"emb_ln.weight", "encoder.layers.0.mixer.Wqkv.bias"}, where,
                       "Jina CLIP v2 text tower");
}

std::unique_ptr<TensorNaming> detect_vae_naming(const std::vector<std::string>& names, const std::string& where) {
  int bfl_levels = 0;
  bool diffusers = false;
  for (const auto& n : names) {
    if (n == "decoder.mid_block.resnets.0.conv1.weight") diffusers = true;
    if (starts_with(n, "decoder.up.")) {
      size_t pos = 11;
      if (auto level = read_index(n, pos)) bfl_levels = std::max(bfl_levels, *level + 1);
    }
  }
  if (diffusers) return prefix_naming("decoder.");
  if (bfl_levels > 0) return bfl_vae_naming(bfl_levels);
  throw Error(where + ": holds no VAE decoder tensors (looked for decoder.mid_block.* diffusers names and "
                      "decoder.mid.*/decoder.up.* BFL names)",
              "is this the right file for the VAE?");
}

}  // namespace baton::io
