#include "partition/model_configs.h"

#include "core/error.h"
#include "io/tiny_model.h"
#include "partition/weight_format.h"

namespace baton::partition {
namespace {

constexpr const char* kReleasedPreset = "newbie-exp0.1";
constexpr const char* kTinyPreset = "tiny";

}  // namespace

std::vector<std::string> preset_names() { return {kReleasedPreset, kTinyPreset}; }

ModelConfigs model_from_preset(const std::string& name) {
  ModelConfigs m;
  if (name == kReleasedPreset) {
    m.dit = models::NextDitConfig::released();
    m.gemma = models::Gemma3Config::released();
    m.jina = models::JinaConfig::released();
    m.vae = models::VaeConfig::released();
  } else if (name == kTinyPreset) {
    const auto& t = io::tiny_model_configs();
    m.dit = t.transformer;
    m.gemma = t.text_encoder;
    m.jina = t.clip;
    m.vae = t.vae;
  } else {
    std::string known;
    for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw UsageError("unknown preset '" + name + "'", "known presets: " + known + "; or give --model DIR");
  }
  m.preset = name;
  m.hash = "preset:" + name;
  return m;
}

ModelConfigs model_from_folder(const std::string& dir) {
  return model_from_folder(io::ModelFolder(dir));  // any layout; configs read or inferred and completed (spec F)
}

ModelConfigs model_from_folder(const io::ModelFolder& folder) {
  ModelConfigs m;
  try {
    m.dit = folder.transformer_config();
    m.gemma = folder.text_encoder_config();
    m.jina = folder.clip_config();
    m.vae = folder.vae_config();
  } catch (Error& e) {
    throw e.with_context("model folder " + folder.path() + " (" + io::layout_name(folder.layout()) + " layout)");
  }
  m.folder = folder.path();
  m.layout = io::layout_name(folder.layout());
  m.hash = "unhashed";
  return m;
}

pb::ModelDescription describe_model(const ModelConfigs& m) {
  pb::ModelDescription d;
  d.set_preset(m.preset);
  d.set_folder(m.folder);
  d.set_layout(m.layout);
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
