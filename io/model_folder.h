#pragma once
// A NewBie model folder in any of the layouts people distribute it in,
// recognised from its files (docs/model-folders.md):
//   newbie     the NewBie Hugging Face layout: model_index.json, transformer/,
//              text_encoder/, clip_model/, vae/, scheduler/ (spec F.1)
//   diffusers  Disty0's diffusers port: text_encoder_2/, tokenizer_2/, Lumina2
//              transformer names (spec F.2)
//   comfy      ComfyUI's models folder: diffusion_models/, text_encoders/, vae/
//              single files (spec F.2)
// Each component's weights come out under canonical names, with its config
// read (or inferred) and completed from the spec.
#include <array>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "io/renamed_source.h"
#include "models/gemma3/gemma3_config.h"
#include "models/jina/jina_config.h"
#include "models/nextdit/nextdit_config.h"
#include "models/vae/vae_config.h"

namespace baton::io {

enum class Layout { NewBie, Diffusers, Comfy };
enum class Component { Transformer, TextEncoder, Clip, Vae };

const std::vector<Component>& all_components();
const char* component_name(Component c);  // transformer, text_encoder, clip, vae
const char* layout_name(Layout l);        // newbie, diffusers, comfy
// "newbie" | "diffusers" | "comfy"; UsageError otherwise.
Layout parse_layout(const std::string& name);
// Default scheduler shift when a folder names none: [U] spec B.4, 6.0.
constexpr double kDefaultSchedulerShift = 6.0;

class ModelFolder {
 public:
  // Recognises the layout and finds every component's files. Configs are read
  // here; a component whose config is unreadable keeps the error, thrown when
  // its config is asked for (so `baton inspect` can still show the others).
  explicit ModelFolder(const std::string& path);
  ~ModelFolder();
  ModelFolder(ModelFolder&&) noexcept;

  const std::string& path() const { return path_; }
  Layout layout() const { return layout_; }

  // A component's weights file: a .safetensors file or a *.safetensors.index.json.
  const std::string& weights_path(Component c) const;
  // Opens the checkpoint (headers only) and maps it to canonical names.
  std::unique_ptr<RenamedSource> weights(Component c) const;

  const models::NextDitConfig& transformer_config() const;
  const models::Gemma3Config& text_encoder_config() const;
  const models::JinaConfig& clip_config() const;
  const models::VaeConfig& vae_config() const;
  nlohmann::json config_json(Component c) const;
  // Where the config came from ("transformer/config.json", "metadata of ...",
  // "inferred from tensor shapes") and what was filled in, one note a key.
  const std::string& config_source(Component c) const;
  const std::vector<std::string>& config_notes(Component c) const;

  double scheduler_shift() const { return shift_; }
  const std::string& scheduler_source() const { return shift_source_; }

  // SentencePiece model of a text component (TextEncoder: Gemma's
  // tokenizer.model; Clip: XLM-R's sentencepiece.bpe.model). A tokenizer kept
  // inside a ComfyUI file (tensor "spiece_model") is extracted to a cache file
  // first. Throws Error saying where it looked when there is none.
  std::string tokenizer_path(Component c) const;
  // Where the tokenizer is, for display; empty when there is none.
  std::string tokenizer_source(Component c) const;

 private:
  struct Part;
  const Part& part(Component c) const;
  void find_files();
  void read_configs();            // model_folder_configs.cpp
  void read_config(Component c);  // model_folder_configs.cpp

  std::string path_;
  Layout layout_ = Layout::NewBie;
  std::array<std::unique_ptr<Part>, 4> parts_;
  models::NextDitConfig transformer_;
  models::Gemma3Config text_encoder_;
  models::JinaConfig clip_;
  models::VaeConfig vae_;
  double shift_ = kDefaultSchedulerShift;
  std::string shift_source_;
};

}  // namespace baton::io
