#include "worker/pipeline_stages.h"

#include <spdlog/fmt/fmt.h>

#include "core/error.h"
#include "io/png_image.h"
#include "models/vae/vae_image.h"

namespace baton::worker {

TextStage& TextStageSlot::stage() {
  require(stage_ != nullptr, "text stage: its encoders are not loaded (the device is denoising)");
  return *stage_;
}

TextStageEncoding::TextStageEncoding(std::unique_ptr<TextStage> stage) : TextStageSlot(std::move(stage)) {}

std::pair<CaptionInput, CaptionInput> TextStageEncoding::encode(const sampling::GenerationRequest& request) {
  auto encoded = stage().encode(request.system_prompt, {{request.prompt, PromptRole::positive},
                                                        {request.negative_prompt, PromptRole::negative}});
  return {{encoded[0].cap_feats, encoded[0].clip_pooled}, {encoded[1].cap_feats, encoded[1].clip_pooled}};
}

TextStageHead::TextStageHead(std::unique_ptr<TextStage> stage) : TextStageSlot(std::move(stage)) {}

std::map<std::string, at::Tensor> TextStageHead::encode_head(const sampling::GenerationRequest& request) {
  auto half = stage().encode_head(request.system_prompt, {{request.prompt, PromptRole::positive},
                                                          {request.negative_prompt, PromptRole::negative}});
  return {{"hidden", half.hidden}, {"mask", half.mask}, {"pooled", half.pooled}};
}

TextStageTail::TextStageTail(std::unique_ptr<TextStage> stage) : TextStageSlot(std::move(stage)) {}

std::pair<CaptionInput, CaptionInput> TextStageTail::encode_tail(const std::map<std::string, at::Tensor>& head) {
  auto get = [&](const char* name) {
    auto it = head.find(name);
    if (it == head.end()) throw Error(std::string("text stage tail: the head's message lacks '") + name + "'");
    return it->second;
  };
  auto encoded = stage().encode_tail({get("hidden"), get("mask"), get("pooled")});
  require(encoded.size() == 2, "text stage tail: expected the two branches of one request");
  return {{encoded[0].cap_feats, encoded[0].clip_pooled}, {encoded[1].cap_feats, encoded[1].clip_pooled}};
}

VaeStage::VaeStage(models::VaeDecoder decoder, models::VaeTiling tiling, nlohmann::json plan_summary,
                   std::string model_name)
    : decoder_(std::move(decoder)), tiling_(tiling), plan_summary_(std::move(plan_summary)),
      model_name_(std::move(model_name)) {}

std::vector<uint8_t> VaeStage::decode_png(const at::Tensor& latent, const sampling::GenerationRequest& request) {
  require(decoder_.has_value(), "VAE stage: its weights are not loaded (the device is encoding prompts)");
  const auto on_device = latent.to(decoder_->device());
  const auto image = tiling_.covers(latent.size(2), latent.size(3)) ? decoder_->decode_latent(on_device)
                                                                    : decoder_->decode_latent_tiled(on_device, tiling_);
  const auto rgb = io::RgbImage::from_tensor(models::image_to_rgb8(image));
  io::ImageRecipe recipe;
  recipe.prompt = request.prompt;
  recipe.negative_prompt = request.negative_prompt;
  recipe.steps = request.steps;
  recipe.cfg_scale = request.cfg_scale;
  recipe.seed = request.seed;
  recipe.width = request.width;
  recipe.height = request.height;
  recipe.model = model_name_;
  recipe.extra = {{"Shift", fmt::format("{}", request.shift)}, {"CFG trunc", fmt::format("{}", request.cfg_trunc)},
                  {"CFG renorm", fmt::format("{}", request.renorm_cfg)}};
  // A fixed compression level: the same image gives the same bytes.
  return io::encode_png(rgb, io::recipe_text_chunks(recipe, request.to_json(), plan_summary_));
}

}  // namespace baton::worker
