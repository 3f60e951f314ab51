#include "worker/text/text_stage.h"

#include <map>

#include "core/dtype.h"
#include "core/error.h"
#include "core/log.h"

namespace baton::worker {

TextStage::TextStage(const TextStageOptions& options, const TensorSource& gemma_weights,
                     const TensorSource& jina_weights)
    : options_(options),
      gemma_tokenizer_(options.gemma_tokenizer_path, io::GemmaTokenizerOptions{options.gemma_max_length, 8}),
      xlmr_tokenizer_(options.xlmr_tokenizer_path, io::XlmrTokenizerOptions{options.jina_max_length}),
      cache_(options.cache_capacity) {
  const auto opts = at::TensorOptions().device(options_.device).dtype(options_.dtype);
  const int64_t used = options_.gemma.used_layers();
  const int64_t split = options_.gemma_split_layer;
  require(split >= 0 && split < used, "text stage: Gemma split layer " + std::to_string(split) +
                                          " must be in [1, " + std::to_string(used - 1) + "] (or 0 for no split)");
  using Part = TextStageOptions::Part;
  require(options_.part == Part::Whole || split > 0, "text stage: a head or tail part needs a Gemma split layer");
  try {
    if (options_.part == Part::Head) {
      gemma_.emplace_back(options_.gemma, gemma_weights, opts, models::Gemma3LayerRange{0, split},
                          options_.gemma_weights);
    } else if (options_.part == Part::Tail) {
      gemma_.emplace_back(options_.gemma, gemma_weights, opts, models::Gemma3LayerRange{split, used},
                          options_.gemma_weights);
      return;  // no Jina: the head ran it
    } else if (split == 0) {
      gemma_.emplace_back(options_.gemma, gemma_weights, opts, models::Gemma3LayerRange{}, options_.gemma_weights);
    } else {
      gemma_.emplace_back(options_.gemma, gemma_weights, opts, models::Gemma3LayerRange{0, split},
                          options_.gemma_weights);
      gemma_.emplace_back(options_.gemma, gemma_weights, opts.device(options_.gemma_second_device),
                          models::Gemma3LayerRange{split, used}, options_.gemma_weights);
    }
  } catch (Error& e) {
    throw e.with_context("loading the Gemma3 text encoder");
  }
  try {
    jina_ = std::make_unique<models::JinaTextModel>(options_.jina, jina_weights, opts);
  } catch (Error& e) {
    throw e.with_context("loading the Jina CLIP text tower");
  }
}

TextStage::~TextStage() = default;

std::string TextStage::gemma_text(const std::string& system_prompt, const PromptText& prompt) {
  if (prompt.role == PromptRole::negative && prompt.prompt.empty()) return "";
  return system_prompt + prompt.prompt;
}

std::string TextStage::cache_key(const std::string& gemma_text, const std::string& jina_text) const {
  // The texts the encoders really see (system prompt included), the dtype and
  // the weight format; the lengths make the key unambiguous whatever the texts contain.
  const std::string format = is_8bit(options_.gemma_weights) ? weight_format_name(options_.gemma_weights) : "dense";
  return dtype_name(options_.dtype) + "|" + format + "|" + std::to_string(gemma_text.size()) + "|" + gemma_text + "|" +
         jina_text;
}

std::vector<EncodedPrompt> TextStage::encode(const std::string& system_prompt, const std::vector<PromptText>& prompts) {
  require(!prompts.empty(), "text stage: no prompts to encode");
  require(options_.part == TextStageOptions::Part::Whole, "text stage: a split part encodes with encode_head/encode_tail");
  std::vector<EncodedPrompt> out(prompts.size());
  // Misses, each text encoded once even if it appears twice in the batch.
  std::vector<std::string> keys, gemma_texts, jina_texts;
  std::map<std::string, size_t> miss_index;
  std::vector<std::optional<size_t>> from_miss(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string g = gemma_text(system_prompt, prompts[i]);
    const std::string& j = prompts[i].prompt;  // Jina sees the raw prompt (spec D.4)
    const std::string key = cache_key(g, j);
    if (auto hit = cache_.get(key)) {
      out[i] = *hit;
      continue;
    }
    auto it = miss_index.find(key);
    if (it == miss_index.end()) {
      it = miss_index.emplace(key, keys.size()).first;
      keys.push_back(key);
      gemma_texts.push_back(g);
      jina_texts.push_back(j);
    }
    from_miss[i] = it->second;
  }
  if (keys.empty()) return out;

  auto gemma_batch = gemma_tokenizer_.encode_batch(gemma_texts);
  for (size_t m = 0; m < keys.size(); ++m)
    if (gemma_batch.lengths[m] >= options_.gemma_max_length)
      spdlog::warn("a prompt fills Gemma's limit of {} tokens (system prompt included); any further text is cut",
                   options_.gemma_max_length);
  at::Tensor hidden = gemma_.front().embed(gemma_batch.input_ids);
  for (const auto& piece : gemma_)
    hidden = piece.run_layers(hidden.to(piece.device()), gemma_batch.attention_mask);
  auto xlmr_batch = xlmr_tokenizer_.encode_batch(jina_texts);
  at::Tensor pooled = jina_->pooled(xlmr_batch.input_ids).to(at::kCPU);

  std::vector<EncodedPrompt> fresh;
  for (size_t m = 0; m < keys.size(); ++m) {
    const auto b = static_cast<int64_t>(m);
    EncodedPrompt e;
    // Only the real rows: the DiT needs no padding (spec C.4).
    e.cap_feats = hidden[b].narrow(0, 0, gemma_batch.lengths[m]).to(at::kCPU, at::kFloat).clone();
    e.clip_pooled = pooled[b].clone();
    cache_.put(keys[m], e);
    fresh.push_back(std::move(e));
  }
  for (size_t i = 0; i < prompts.size(); ++i)
    if (from_miss[i]) out[i] = fresh[*from_miss[i]];
  return out;
}

TextHalf TextStage::encode_head(const std::string& system_prompt, const std::vector<PromptText>& prompts) {
  require(options_.part == TextStageOptions::Part::Head, "text stage: encode_head on a stage that is not a head");
  require(!prompts.empty(), "text stage: no prompts to encode");
  std::vector<std::string> gemma_texts, jina_texts;
  for (const auto& p : prompts) {
    gemma_texts.push_back(gemma_text(system_prompt, p));
    jina_texts.push_back(p.prompt);  // Jina sees the raw prompt (spec D.4)
  }
  auto gemma_batch = gemma_tokenizer_.encode_batch(gemma_texts);
  for (auto length : gemma_batch.lengths)
    if (length >= options_.gemma_max_length)
      spdlog::warn("a prompt fills Gemma's limit of {} tokens (system prompt included); any further text is cut",
                   options_.gemma_max_length);
  const auto& head = gemma_.front();
  TextHalf half;
  half.hidden = head.run_layers(head.embed(gemma_batch.input_ids), gemma_batch.attention_mask);
  half.mask = gemma_batch.attention_mask.to(at::kCPU, at::kLong);
  half.pooled = jina_->pooled(xlmr_tokenizer_.encode_batch(jina_texts).input_ids).to(at::kCPU, at::kFloat);
  return half;
}

std::vector<EncodedPrompt> TextStage::encode_tail(const TextHalf& half) {
  require(options_.part == TextStageOptions::Part::Tail, "text stage: encode_tail on a stage that is not a tail");
  const int64_t width = options_.gemma.hidden_size;
  require(half.hidden.dim() == 3 && half.hidden.size(2) == width && half.mask.dim() == 2 &&
              half.mask.size(0) == half.hidden.size(0) && half.mask.size(1) == half.hidden.size(1) &&
              half.pooled.dim() == 2 && half.pooled.size(0) == half.hidden.size(0),
          "text stage tail: hidden " + format_shape(half.hidden.sizes().vec()) + ", mask " +
              format_shape(half.mask.sizes().vec()) + " and pooled " + format_shape(half.pooled.sizes().vec()) +
              " do not make one batch of width " + std::to_string(width));
  const auto& tail = gemma_.front();
  const auto hidden = tail.run_layers(half.hidden.to(tail.device(), tail.dtype()), half.mask.to(at::kLong));
  const auto lengths = half.mask.to(at::kCPU, at::kLong).sum(1);
  std::vector<EncodedPrompt> out;
  for (int64_t b = 0; b < hidden.size(0); ++b) {
    EncodedPrompt e;
    e.cap_feats = hidden[b].narrow(0, 0, lengths[b].item<int64_t>()).to(at::kCPU, at::kFloat).clone();
    e.clip_pooled = half.pooled[b].clone();
    out.push_back(std::move(e));
  }
  return out;
}

EncodedPrompt TextStage::encode(const std::string& system_prompt, const PromptText& prompt) {
  return encode(system_prompt, std::vector<PromptText>{prompt}).front();
}

std::vector<std::pair<std::string, int64_t>> TextStage::weight_bytes() const {
  std::map<std::string, int64_t> by_device;
  for (const auto& piece : gemma_) by_device[piece.device().str()] += piece.weight_bytes();
  if (jina_) by_device[jina_->device().str()] += jina_->weight_bytes();
  return {by_device.begin(), by_device.end()};
}

}  // namespace baton::worker
