#include "coordinator/stage_model.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

#include "coordinator/demo_model.h"
#include "coordinator/model_fingerprint.h"
#include "core/error.h"
#include "core/random_tensor_source.h"
#include "io/tokenizer_training.h"

namespace baton::coordinator {
namespace fs = std::filesystem;

namespace {

// Bump when the random model's tokenizers or weights change.
constexpr const char* kRandomName = "random-model-v1";
constexpr uint64_t kRandomSeed = 2027;

// A folder that owns its ModelFolder (FolderStageModel only borrows one).
class OwnedFolderModel : public FolderStageModel {
 public:
  explicit OwnedFolderModel(std::unique_ptr<io::ModelFolder> folder)
      : FolderStageModel(*folder), owned_(std::move(folder)) {}

 private:
  std::unique_ptr<io::ModelFolder> owned_;  // outlives nothing the base needs: the base only holds a reference
};

// The released sizes with weights drawn per tensor from (seed, name), so every
// rank draws the same values for the tensors it loads. The tokenizers are tiny
// ones trained once into the cache: their ids are valid for the released
// vocabularies, which is all random weights need.
class RandomReleasedModel : public StageModel {
 public:
  RandomReleasedModel() : configs_(partition::model_from_preset("newbie-exp0.1")) {
    const fs::path root = baton_cache_dir();
    dir_ = (root / kRandomName).string();
    if (fs::exists(fs::path(dir_) / "xlmr.model")) return;
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) throw Error("cannot create the cache folder " + root.string(), "set BATON_CACHE_DIR to a writable folder");
    const fs::path tmp = root / (std::string(kRandomName) + ".tmp-" + std::to_string(::getpid()));
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp);
    io::write_tiny_gemma_tokenizer((tmp / "gemma.model").string());
    io::write_tiny_xlmr_tokenizer((tmp / "xlmr.model").string());
    fs::rename(tmp, dir_, ec);
    if (ec) {
      fs::remove_all(tmp, ec);
      if (!fs::exists(fs::path(dir_) / "xlmr.model")) throw Error("cannot make the random model's tokenizers in " + dir_);
    }
  }
  const models::NextDitConfig& transformer_config() const override { return configs_.dit; }
  const models::Gemma3Config& text_encoder_config() const override { return configs_.gemma; }
  const models::JinaConfig& clip_config() const override { return configs_.jina; }
  const models::VaeConfig& vae_config() const override { return configs_.vae; }
  std::unique_ptr<TensorSource> weights(io::Component c) const override {
    const uint64_t seed = kRandomSeed * 31 + static_cast<uint64_t>(c);
    switch (c) {
      case io::Component::Transformer:
        return std::make_unique<RandomTensorSource>(models::nextdit_tensor_shapes(configs_.dit), seed, 1.0,
                                                    "random transformer");
      case io::Component::TextEncoder:  // Gemma norms are offsets around 0 (y = x·(1 + w))
        return std::make_unique<RandomTensorSource>(models::gemma3_tensor_shapes(configs_.gemma), seed, 0.0,
                                                    "random text encoder");
      case io::Component::Clip:
        return std::make_unique<RandomTensorSource>(models::jina_tensor_shapes(configs_.jina), seed, 1.0,
                                                    "random clip");
      case io::Component::Vae:
        return std::make_unique<RandomTensorSource>(models::vae_decoder_tensor_shapes(configs_.vae), seed, 1.0,
                                                    "random vae");
    }
    throw Error("unknown model component");
  }
  std::string tokenizer_path(io::Component c) const override {
    return (fs::path(dir_) / (c == io::Component::Clip ? "xlmr.model" : "gemma.model")).string();
  }
  partition::ModelConfigs planning_configs() const override { return configs_; }
  std::string fingerprint() const override { return std::string(kRandomName) + "-" + std::to_string(kRandomSeed); }
  std::string recipe_name() const override { return "random weights (NewBie-image-Exp0.1 sizes)"; }

 private:
  partition::ModelConfigs configs_;
  std::string dir_;
};

}  // namespace

partition::ModelConfigs FolderStageModel::planning_configs() const {
  return partition::model_from_folder(folder_.path());
}

std::string FolderStageModel::fingerprint() const { return model_fingerprint(folder_.path()); }

bool is_random_model(const std::string& model) { return model == "random"; }

std::unique_ptr<StageModel> open_stage_model(const std::string& model) {
  if (is_random_model(model)) {
    spdlog::warn("--model random: the released sizes with RANDOM weights; its images are noise, not pictures");
    return std::make_unique<RandomReleasedModel>();
  }
  std::string dir = model;
  if (is_demo_model(model)) {
    spdlog::warn("--model demo: a tiny model with RANDOM weights; its images are noise, not pictures");
    dir = ensure_demo_model();
  } else if (!fs::is_directory(model)) {
    throw UsageError("model folder " + model + " does not exist",
                     "download NewBie-image-Exp0.1 (see README), or use --model demo (tiny) or --model random "
                     "(released sizes, random weights)");
  }
  return std::make_unique<OwnedFolderModel>(std::make_unique<io::ModelFolder>(dir));
}

}  // namespace baton::coordinator
