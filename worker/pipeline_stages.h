#pragma once
// The text and VAE stages as the pipeline protocol sees them (stage_worker.h's
// TextEncoding and ImageDecoding), over the model code.
#include <memory>
#include <nlohmann/json.hpp>

#include "models/vae/vae_decoder.h"
#include "models/vae/vae_tiling.h"
#include "worker/stage_worker.h"
#include "worker/text/text_stage.h"

namespace baton::worker {

// Prompt -> Gemma features and the Jina vector, negative prompt likewise.
class TextStageEncoding : public TextEncoding {
 public:
  explicit TextStageEncoding(std::unique_ptr<TextStage> stage);
  std::pair<CaptionInput, CaptionInput> encode(const sampling::GenerationRequest& request) override;

 private:
  std::unique_ptr<TextStage> stage_;
};

// A text stage split over two ranks: the head's TextHalf as named tensors
// ("hidden", "mask", "pooled"; both branches, cond first), and the tail.
class TextStageHead : public TextEncodingHead {
 public:
  explicit TextStageHead(std::unique_ptr<TextStage> stage);
  std::map<std::string, at::Tensor> encode_head(const sampling::GenerationRequest& request) override;

 private:
  std::unique_ptr<TextStage> stage_;
};
class TextStageTail : public TextEncodingTail {
 public:
  explicit TextStageTail(std::unique_ptr<TextStage> stage);
  std::pair<CaptionInput, CaptionInput> encode_tail(const std::map<std::string, at::Tensor>& head) override;

 private:
  std::unique_ptr<TextStage> stage_;
};

// Final latent -> image -> PNG bytes with the recipe (and a summary of the
// plan) in its text chunks.
class VaeStage : public ImageDecoding {
 public:
  VaeStage(models::VaeDecoder decoder, models::VaeTiling tiling, nlohmann::json plan_summary,
           std::string model_name = "NewBie-image-Exp0.1");
  std::vector<uint8_t> decode_png(const at::Tensor& latent, const sampling::GenerationRequest& request) override;

 private:
  models::VaeDecoder decoder_;
  models::VaeTiling tiling_;
  nlohmann::json plan_summary_;
  std::string model_name_;
};

}  // namespace baton::worker
