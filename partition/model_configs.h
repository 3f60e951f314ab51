#pragma once
// The four networks' configurations the planner sizes a model from: the
// released preset (no weights needed) or a checkpoint folder's config.json files.
#include <string>
#include <vector>

#include "io/model_folder.h"
#include "models/gemma3/gemma3_config.h"
#include "models/jina/jina_config.h"
#include "models/nextdit/nextdit_config.h"
#include "models/vae/vae_config.h"
#include "partition/plan.pb.h"

namespace baton::partition {

struct ModelConfigs {
  models::NextDitConfig dit;
  models::Gemma3Config gemma;
  models::JinaConfig jina;
  models::VaeConfig vae;
  std::string preset;  // set for a preset
  std::string folder;  // set for a checkpoint folder
  std::string layout;  // the folder's layout (newbie, diffusers, comfy)
  std::string hash;    // placeholder: io::ModelFolder will hash the checkpoint
};

// Names accepted by `--preset`.
std::vector<std::string> preset_names();
// "newbie-exp0.1": the released NewBie-image-Exp0.1 (models::*Config::released());
// "tiny": the tiny model of `baton make-tiny-model` (io::tiny_model_configs(), for tests).
ModelConfigs model_from_preset(const std::string& name);
// The configs of a checkpoint folder in any layout io::ModelFolder recognises
// (newbie, diffusers, comfy), read or inferred and completed as it does.
ModelConfigs model_from_folder(const std::string& dir);
ModelConfigs model_from_folder(const io::ModelFolder& folder);

// The plan's description of the model (counts and where it came from).
pb::ModelDescription describe_model(const ModelConfigs& model);
// Configs for a plan's model description (preset or folder), for validating a loaded plan.
ModelConfigs model_from_description(const pb::ModelDescription& description);

}  // namespace baton::partition
