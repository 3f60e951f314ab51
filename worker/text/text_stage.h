#pragma once
// The text stage (design.md, Flow of one request): prompt -> Gemma3 caption
// features (hidden_states[-2] of the real tokens, spec C) and the Jina CLIP v2
// pooled vector (spec D), with NewBie's prompt assembly (spec C.4, D.4) and a
// bounded cache of encoded prompts. Runs on a CPU (float32 or bf16) or a GPU;
// Gemma may be split over two devices. Results are float32 on the CPU.
#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor_source.h"
#include "core/weight_format.h"
#include "io/gemma_tokenizer.h"
#include "io/xlmr_tokenizer.h"
#include "models/gemma3/gemma3_text_model.h"
#include "models/jina/jina_text_model.h"
#include "worker/text/encoded_prompt_cache.h"

namespace baton::worker {

struct TextStageOptions {
  models::Gemma3Config gemma;
  models::JinaConfig jina;
  std::string gemma_tokenizer_path;  // Gemma's tokenizer.model
  std::string xlmr_tokenizer_path;   // Jina's sentencepiece.bpe.model
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  // int8 or fp8 store Gemma's matrices in 8 bits (models/quantization); any
  // other format keeps them dense in `dtype`. Jina stays dense.
  WeightFormat gemma_weights = WeightFormat::kFp32;
  int64_t gemma_max_length = 512;    // spec C.4
  int64_t jina_max_length = 2048;    // spec D.4 (training value)
  size_t cache_capacity = 32;        // encoded prompts kept; 0 disables the cache
  // Gemma over two devices: layers [0, split) on `device`, [split, used) on
  // `gemma_second_device`. 0 = no split. Jina stays on `device`.
  int64_t gemma_split_layer = 0;
  at::Device gemma_second_device = at::kCPU;
  // Gemma split over two processes (ranks, docs/distributed.md) instead of two
  // devices of this one: Head holds the tokenizers, Jina and layers [0, split)
  // (encode_head), Tail holds layers [split, used) only (encode_tail).
  enum class Part { Whole, Head, Tail };
  Part part = Part::Whole;
};

// What the head of a split text stage hands to its tail: Gemma's hidden
// states after the head's layers and the batch's mask, and Jina's vectors.
struct TextHalf {
  at::Tensor hidden;  // [B, L, hidden] in the compute dtype
  at::Tensor mask;    // [B, L] int64, 1 for real tokens (right padded)
  at::Tensor pooled;  // [B, clip_text_dim] float32 on the CPU
};

// The negative prompt gets the system prompt only when it is not empty (spec B.4).
enum class PromptRole { positive, negative };

struct PromptText {
  std::string prompt;
  PromptRole role = PromptRole::positive;
};

class TextStage {
 public:
  // Weights by canonical names (models/gemma3, models/jina); the sources are
  // only read during construction.
  TextStage(const TextStageOptions& options, const TensorSource& gemma_weights, const TensorSource& jina_weights);
  ~TextStage();

  // What Gemma reads: system_prompt + prompt, except "" for an empty negative.
  static std::string gemma_text(const std::string& system_prompt, const PromptText& prompt);

  // Encodes `prompts` (typically [cond, uncond]) with one system prompt. Cached
  // prompts are not recomputed; the others go through each encoder as one
  // batch. One EncodedPrompt per prompt, in order; its tensors are shared
  // with the cache, so treat them as read-only.
  std::vector<EncodedPrompt> encode(const std::string& system_prompt, const std::vector<PromptText>& prompts);
  EncodedPrompt encode(const std::string& system_prompt, const PromptText& prompt);
  // Part::Head: the prompts as one batch through the tokenizers, Jina and the
  // first Gemma layers (no cache). Part::Tail: the remaining layers; one
  // EncodedPrompt per row of `half`, as encode() would give.
  TextHalf encode_head(const std::string& system_prompt, const std::vector<PromptText>& prompts);
  std::vector<EncodedPrompt> encode_tail(const TextHalf& half);

  const EncodedPromptCache& cache() const { return cache_; }
  const TextStageOptions& options() const { return options_; }
  // Bytes of weights on each device ("cuda:0" -> bytes).
  std::vector<std::pair<std::string, int64_t>> weight_bytes() const;

 private:
  std::string cache_key(const std::string& gemma_text, const std::string& jina_text) const;

  TextStageOptions options_;
  io::GemmaTokenizer gemma_tokenizer_;
  io::XlmrTokenizer xlmr_tokenizer_;
  std::vector<models::Gemma3TextModel> gemma_;  // one piece, or two when split
  std::unique_ptr<models::JinaTextModel> jina_;
  EncodedPromptCache cache_;
};

}  // namespace baton::worker
