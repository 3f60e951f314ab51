#pragma once
// Complete NewBie model folders of tiny size for tests, demos and the README
// quick start (`baton make-tiny-model`): all four networks with small but
// non-degenerate configs, seeded random weights, and SentencePiece tokenizers
// trained on the spot, written in any layout io::ModelFolder reads.
#include <cstdint>
#include <memory>
#include <string>

#include "core/tensor_source.h"
#include "io/model_folder.h"
#include "io/safetensors_header.h"

namespace baton::io {

struct TinyModelConfigs {
  models::NextDitConfig transformer;
  models::Gemma3Config text_encoder;
  models::JinaConfig clip;
  models::VaeConfig vae;
  int64_t gemma_tokenizer_pieces = 0;  // == text_encoder.vocab_size
  // XLM-R ids are SentencePiece ids + 1 (fairseq offset) and <mask> comes last,
  // so clip.vocab_size = pieces + 2 covers every id the tokenizer produces.
  int64_t xlmr_tokenizer_pieces = 0;
  double scheduler_shift = kDefaultSchedulerShift;
};

// The tiny configs (fixed; `baton generate --model demo` relies on them).
const TinyModelConfigs& tiny_model_configs();

struct TinyModelOptions {
  Layout layout = Layout::NewBie;
  uint64_t seed = 0;
  StDtype dtype = StDtype::F32;  // of the weights
};

// Writes a complete model folder at `dir` (which must not exist or be empty).
// Built in a sibling temporary folder and renamed into place. The same seed
// gives the same canonical tensors in every layout.
void write_tiny_model(const std::string& dir, const TinyModelOptions& options);

// The canonical weights of a tiny model component as float32; the Jina text
// tower in its LoRA-parametrized form (the comfy layout stores it merged).
std::unique_ptr<TensorSource> tiny_model_weights(Component component, uint64_t seed);

// Folds a LoRA pair into its weight (spec D.3; scale = alpha / rank):
// Linear W + B[0]·A[0]; Embedding W + A[0]·B[0].
at::Tensor merge_lora(const at::Tensor& weight, const at::Tensor& lora_a, const at::Tensor& lora_b, bool embedding,
                      double scale);

}  // namespace baton::io
