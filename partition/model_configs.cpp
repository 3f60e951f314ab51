#include "partition/model_configs.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "partition/weight_format.h"

namespace baton::partition {
namespace {

constexpr const char* kReleasedPreset = "newbie-exp0.1";

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path, "is this a NewBie checkpoint folder (transformer/, text_encoder/, clip_model/, vae/)?");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + " is not valid JSON: " + e.what());
  }
}

template <typename Config>
Config read_component(const std::string& dir, const std::string& component, std::vector<std::string>* defaulted) {
  const std::string path = dir + "/" + component + "/config.json";
  const auto json = read_json_file(path);
  try {
    return Config::from_json(json, defaulted);
  } catch (Error& e) {
    throw e.with_context(path);
  }
}

}  // namespace

std::vector<std::string> preset_names() { return {kReleasedPreset}; }

ModelConfigs model_from_preset(const std::string& name) {
  if (name != kReleasedPreset) {
    std::string known;
    for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw UsageError("unknown preset '" + name + "'", "known presets: " + known + "; or give --model DIR");
  }
  ModelConfigs m;
  m.dit = models::NextDitConfig::released();
  m.gemma = models::Gemma3Config::released();
  m.jina = models::JinaConfig::released();
  m.vae = models::VaeConfig::released();
  m.preset = name;
  m.hash = "preset:" + name;
  return m;
}

// TODO(io::ModelFolder): switch to io::ModelFolder (layout detection, shards,
// hashing) when it lands; this reads only the four config.json files.
ModelConfigs model_from_folder(const std::string& dir) {
  ModelConfigs m;
  std::vector<std::string> dit_defaulted;
  m.dit = read_component<models::NextDitConfig>(dir, "transformer", &dit_defaulted);
  m.gemma = read_component<models::Gemma3Config>(dir, "text_encoder", nullptr);
  m.jina = read_component<models::JinaConfig>(dir, "clip_model", nullptr);
  m.vae = read_component<models::VaeConfig>(dir, "vae", nullptr);
  // The released transformer config has no cap_feat_dim: loaders take it from
  // the text encoder (spec F.1).
  for (const auto& key : dit_defaulted)
    if (key == "cap_feat_dim") m.dit.cap_feat_dim = m.gemma.hidden_size;
  m.folder = dir;
  m.hash = "unhashed";
  return m;
}

pb::ModelDescription describe_model(const ModelConfigs& m) {
  pb::ModelDescription d;
  d.set_preset(m.preset);
  d.set_folder(m.folder);
  d.set_hash(m.hash);
  d.set_dit_blocks(static_cast<int32_t>(m.dit.n_layers));
  d.set_gemma_layers(static_cast<int32_t>(m.gemma.used_layers()));
  auto dit = m.dit;
  auto params = count_params(models::nextdit_tensor_shapes(dit)).total() - dit.dim;  // norm_final is never loaded
  params += count_params(models::gemma3_tensor_shapes(m.gemma)).total();
  params += count_params(models::jina_tensor_shapes(m.jina)).total();
  params += count_params(models::vae_decoder_tensor_shapes(m.vae)).total();
  d.set_parameters(params);
  return d;
}

ModelConfigs model_from_description(const pb::ModelDescription& d) {
  if (!d.preset().empty()) return model_from_preset(d.preset());
  if (!d.folder().empty()) return model_from_folder(d.folder());
  throw Error("the plan's model names neither a preset nor a folder", "set model.preset or model.folder in the plan");
}

}  // namespace baton::partition
