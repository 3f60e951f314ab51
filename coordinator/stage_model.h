#pragma once
// What the stages of a job are built from (`baton generate --model`): a model
// folder, the demo model ("demo"), or the released model's sizes with seeded
// random weights ("random": no checkpoint needed; for benchmarks and memory
// and partition checks on GPUs; its images are noise).
#include <memory>
#include <string>

#include "core/tensor_source.h"
#include "io/model_folder.h"
#include "partition/model_configs.h"

namespace baton::coordinator {

class StageModel {
 public:
  virtual ~StageModel() = default;
  virtual const models::NextDitConfig& transformer_config() const = 0;
  virtual const models::Gemma3Config& text_encoder_config() const = 0;
  virtual const models::JinaConfig& clip_config() const = 0;
  virtual const models::VaeConfig& vae_config() const = 0;
  // A component's weights under canonical names (only what a stage loads is read).
  virtual std::unique_ptr<TensorSource> weights(io::Component c) const = 0;
  virtual std::string tokenizer_path(io::Component c) const = 0;
  // The configs the planner sizes the model from.
  virtual partition::ModelConfigs planning_configs() const = 0;
  // What every rank of a job must agree on (the Hello's model hash).
  virtual std::string fingerprint() const = 0;
  // The model named in a PNG's recipe.
  virtual std::string recipe_name() const { return "NewBie-image-Exp0.1"; }
};

// A model folder as a StageModel; the folder must outlive it.
class FolderStageModel : public StageModel {
 public:
  explicit FolderStageModel(const io::ModelFolder& folder) : folder_(folder) {}
  const models::NextDitConfig& transformer_config() const override { return folder_.transformer_config(); }
  const models::Gemma3Config& text_encoder_config() const override { return folder_.text_encoder_config(); }
  const models::JinaConfig& clip_config() const override { return folder_.clip_config(); }
  const models::VaeConfig& vae_config() const override { return folder_.vae_config(); }
  std::unique_ptr<TensorSource> weights(io::Component c) const override { return folder_.weights(c); }
  std::string tokenizer_path(io::Component c) const override { return folder_.tokenizer_path(c); }
  partition::ModelConfigs planning_configs() const override;
  std::string fingerprint() const override;

 private:
  const io::ModelFolder& folder_;
};

// "demo" (made in the cache on first use), "random", or a model folder.
// Throws UsageError for a folder that does not exist.
std::unique_ptr<StageModel> open_stage_model(const std::string& model);

// True for "random".
bool is_random_model(const std::string& model);

}  // namespace baton::coordinator
