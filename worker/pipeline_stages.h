#pragma once
// The text and VAE stages as the pipeline protocol sees them (stage_worker.h's
// TextEncoding and ImageDecoding), over the model code.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "models/vae/vae_decoder.h"
#include "models/vae/vae_tiling.h"
#include "worker/stage_worker.h"
#include "worker/text/text_stage.h"

namespace baton::worker {

// The TextStage a text encoding runs. A time-shared text stage
// (worker/time_sharing.h) is set only while its device encodes, nullptr otherwise.
class TextStageSlot {
 public:
  explicit TextStageSlot(std::unique_ptr<TextStage> stage) : stage_(std::move(stage)) {}
  void set_stage(std::unique_ptr<TextStage> stage) { stage_ = std::move(stage); }
  bool loaded() const { return stage_ != nullptr; }

 protected:
  TextStage& stage();  // Error when not loaded

 private:
  std::unique_ptr<TextStage> stage_;
};

// Prompt -> Gemma features and the Jina vector, negative prompt likewise.
class TextStageEncoding : public TextEncoding, public TextStageSlot {
 public:
  explicit TextStageEncoding(std::unique_ptr<TextStage> stage);
  std::pair<CaptionInput, CaptionInput> encode(const sampling::GenerationRequest& request) override;
};

// A text stage split over two workers (ranks, or devices of a time-shared
// text stage): the head's TextHalf as named tensors ("hidden", "mask",
// "pooled"; both branches, cond first), and the tail.
class TextStageHead : public TextEncodingHead, public TextStageSlot {
 public:
  explicit TextStageHead(std::unique_ptr<TextStage> stage);
  std::map<std::string, at::Tensor> encode_head(const sampling::GenerationRequest& request) override;
};
class TextStageTail : public TextEncodingTail, public TextStageSlot {
 public:
  explicit TextStageTail(std::unique_ptr<TextStage> stage);
  std::pair<CaptionInput, CaptionInput> encode_tail(const std::map<std::string, at::Tensor>& head) override;
};

// Final latent -> image -> PNG bytes with the recipe (and a summary of the
// plan) in its text chunks.
class VaeStage : public ImageDecoding {
 public:
  VaeStage(models::VaeDecoder decoder, models::VaeTiling tiling, nlohmann::json plan_summary,
           std::string model_name = "NewBie-image-Exp0.1");
  std::vector<uint8_t> decode_png(const at::Tensor& latent, const sampling::GenerationRequest& request) override;

  // A device that time-shares its text stage drops the decoder while it
  // encodes and sets it again after (worker/time_sharing.h).
  void drop_decoder() { decoder_.reset(); }
  void set_decoder(models::VaeDecoder decoder) { decoder_.emplace(std::move(decoder)); }
  bool loaded() const { return decoder_.has_value(); }

 private:
  std::optional<models::VaeDecoder> decoder_;
  models::VaeTiling tiling_;
  nlohmann::json plan_summary_;
  std::string model_name_;
};

}  // namespace baton::worker
