// ModelFolder: reading each component's config and completing it from the
// spec (config.json for Hugging Face layouts; a "config" metadata entry or the
// tensor shapes for ComfyUI files).
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "io/config_inference.h"
#include "io/json_document.h"
#include "io/model_folder.h"
#include "io/model_folder_part.h"

namespace baton::io {
namespace fs = std::filesystem;
namespace {

// diffusers' Lumina2Transformer2DModel config keys -> NewBie's (spec A.3).
// Its pooled-projection width key is not confirmed; both plausible names are
// read, else the Jina hidden size fills it like for the NewBie config.
nlohmann::json from_lumina2_config(const nlohmann::json& j) {
  static const std::pair<const char*, const char*> kKeys[] = {
      {"hidden_size", "dim"},          {"num_layers", "n_layers"},   {"num_refiner_layers", "n_refiner_layers"},
      {"num_attention_heads", "n_heads"}, {"num_kv_heads", "n_kv_heads"}, {"axes_dim_rope", "axes_dims"},
      {"pooled_projection_dim", "clip_text_dim"}};
  nlohmann::json out = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = it.key();
    for (const auto& [from, to] : kKeys)
      if (key == from) key = to;
    out[key] = it.value();
  }
  out["qk_norm"] = true;  // diffusers' Lumina2 attention always normalises q and k
  return out;
}

bool is_lumina2_config(const nlohmann::json& j) {
  return (j.contains("_class_name") && j["_class_name"] == "Lumina2Transformer2DModel") ||
         (j.contains("hidden_size") && j.contains("num_layers"));
}

std::string joined(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

bool take(std::vector<std::string>& keys, const std::string& key) {
  auto it = std::find(keys.begin(), keys.end(), key);
  if (it == keys.end()) return false;
  keys.erase(it);
  return true;
}

}  // namespace

void ModelFolder::read_configs() {
  for (Component c : all_components()) read_config(c);

  // Keys the released transformer config.json lacks come from the spec and the
  // other components (spec F.1: loaders hard-code qk_norm and take
  // cap_feat_dim from the text encoder).
  auto& tp = *parts_[static_cast<size_t>(Component::Transformer)];
  if (tp.config_error.empty()) {
    auto& defaulted = tp.defaulted;
    if (take(defaulted, "qk_norm")) {
      transformer_.qk_norm = true;
      tp.config_notes.push_back("qk_norm = true (not in the config; spec A.1: the released model normalises q and k)");
    }
    if (take(defaulted, "cap_feat_dim") && part(Component::TextEncoder).config_error.empty()) {
      transformer_.cap_feat_dim = text_encoder_.hidden_size;
      tp.config_notes.push_back("cap_feat_dim = " + std::to_string(transformer_.cap_feat_dim) +
                                " (not in the config; the text encoder's hidden_size)");
    }
    if (take(defaulted, "clip_text_dim") && part(Component::Clip).config_error.empty()) {
      transformer_.clip_text_dim = clip_.hidden_size;
      tp.config_notes.push_back("clip_text_dim = " + std::to_string(transformer_.clip_text_dim) +
                                " (not in the config; the clip model's hidden_size)");
    }
  }
  for (Component c : all_components()) {
    auto& p = *parts_[static_cast<size_t>(c)];
    if (!p.defaulted.empty()) p.config_notes.push_back("released values for " + joined(p.defaulted));
    for (const auto& note : p.config_notes) spdlog::info("{} config ({}): {}", component_name(c), p.config_source, note);
    if (!p.config_error.empty()) spdlog::warn("{} config: {}", component_name(c), p.config_error);
  }
  if (part(Component::Transformer).config_error.empty() && part(Component::TextEncoder).config_error.empty() &&
      transformer_.cap_feat_dim != text_encoder_.hidden_size)
    spdlog::warn("{}: transformer cap_feat_dim {} differs from the text encoder's hidden_size {}", path_,
                 transformer_.cap_feat_dim, text_encoder_.hidden_size);

  // Scheduler shift: [U] spec B.4, 6.0 when the folder does not say.
  const fs::path sched = fs::path(path_) / "scheduler" / "scheduler_config.json";
  shift_source_ = "default, spec B.4";
  if (layout_ != Layout::Comfy && fs::is_regular_file(sched)) {
    const auto j = read_json_file(sched.string());
    if (j.is_object() && j.contains("shift") && j["shift"].is_number()) {
      shift_ = j["shift"].get<double>();
      shift_source_ = "scheduler/scheduler_config.json";
      if (!(shift_ > 0)) throw Error(sched.string() + ": shift must be positive, found " + j["shift"].dump());
    }
  }
  if (shift_source_ == "default, spec B.4")
    spdlog::info("{}: no scheduler shift given, using {} (spec B.4)", path_, kDefaultSchedulerShift);
}

void ModelFolder::read_config(Component c) {
  auto& p = *parts_[static_cast<size_t>(c)];
  std::vector<std::string>& defaulted = p.defaulted;
  try {
    nlohmann::json j;
    bool have_json = false;
    if (!p.config_file.empty() && fs::is_regular_file(p.config_file)) {
      j = read_json_file(p.config_file);
      p.config_source = fs::relative(p.config_file, path_).string();
      have_json = true;
    } else if (!p.weights.empty()) {
      // ComfyUI files (and HF folders missing a config.json): a "config"
      // metadata entry (baton writes one), else the tensor shapes.
      auto w = weights(c);
      const auto meta = w->checkpoint().metadata();
      if (meta.count("config")) {
        const auto& text = meta.at("config");
        j = parse_json_strict(text.data(), text.data() + text.size(), p.weights + ": metadata 'config'");
        p.config_source = "metadata of " + fs::relative(p.weights, path_).string();
        have_json = true;
      } else {
        p.config_source = "inferred from the tensor shapes of " + fs::relative(p.weights, path_).string();
        switch (c) {
          case Component::Transformer: transformer_ = infer_nextdit_config(*w, p.config_notes); break;
          case Component::TextEncoder: text_encoder_ = infer_gemma3_config(*w, p.config_notes); break;
          case Component::Clip: clip_ = infer_jina_config(*w, p.config_notes); break;
          case Component::Vae: vae_ = infer_vae_config(*w, p.config_notes); break;
        }
      }
    } else {
      throw Error("no config: " + (p.config_file.empty() ? p.weights_error : p.config_file + " is missing"));
    }
    if (have_json) {
      switch (c) {
        case Component::Transformer:
          transformer_ = models::NextDitConfig::from_json(is_lumina2_config(j) ? from_lumina2_config(j) : j, &defaulted);
          break;
        case Component::TextEncoder: text_encoder_ = models::Gemma3Config::from_json(j, &defaulted); break;
        case Component::Clip: clip_ = models::JinaConfig::from_json(j, &defaulted); break;
        case Component::Vae: vae_ = models::VaeConfig::from_json(j, &defaulted); break;
      }
    }
  } catch (Error& e) {
    // Name the file unless the message already does.
    const std::string what = e.what();
    const std::string file = !p.config_file.empty() && fs::is_regular_file(p.config_file) ? p.config_file : p.weights;
    p.config_error = file.empty() || what.find(file) != std::string::npos ? what : file + ": " + what;
    defaulted.clear();
  }
}

const models::NextDitConfig& ModelFolder::transformer_config() const {
  const auto& p = part(Component::Transformer);
  if (!p.config_error.empty()) throw Error(p.config_error);
  return transformer_;
}
const models::Gemma3Config& ModelFolder::text_encoder_config() const {
  const auto& p = part(Component::TextEncoder);
  if (!p.config_error.empty()) throw Error(p.config_error);
  return text_encoder_;
}
const models::JinaConfig& ModelFolder::clip_config() const {
  const auto& p = part(Component::Clip);
  if (!p.config_error.empty()) throw Error(p.config_error);
  return clip_;
}
const models::VaeConfig& ModelFolder::vae_config() const {
  const auto& p = part(Component::Vae);
  if (!p.config_error.empty()) throw Error(p.config_error);
  return vae_;
}

nlohmann::json ModelFolder::config_json(Component c) const {
  switch (c) {
    case Component::Transformer: return transformer_config().to_json();
    case Component::TextEncoder: return text_encoder_config().to_json();
    case Component::Clip: return clip_config().to_json();
    case Component::Vae: return vae_config().to_json();
  }
  return {};
}

const std::string& ModelFolder::config_source(Component c) const { return part(c).config_source; }
const std::vector<std::string>& ModelFolder::config_notes(Component c) const { return part(c).config_notes; }

}  // namespace baton::io
