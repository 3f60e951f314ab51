#pragma once
// The XLM-RoBERTa tokenizer of the Jina CLIP v2 text tower (spec D.4):
// SentencePiece pieces with the fairseq id offset (<s>=0, <pad>=1, </s>=2,
// <unk>=3, piece p -> p + 1), sequences "<s> pieces </s>", truncation that
// keeps </s>, batches right padded with <pad>.
#include <memory>
#include <string>
#include <vector>

#include "io/sentencepiece_model.h"
#include "io/token_batch.h"

namespace baton::io {

struct XlmrTokenizerOptions {
  // Tokens per text incl. <s> and </s>; 2048 is the training value (spec D.4).
  int64_t max_length = 2048;
};

class XlmrTokenizer {
 public:
  static constexpr int64_t kBos = 0, kPad = 1, kEos = 2, kUnk = 3;

  // `model_path`: sentencepiece.bpe.model (SentencePiece ids unk 0, <s> 1, </s> 2).
  explicit XlmrTokenizer(const std::string& model_path, XlmrTokenizerOptions options = {});

  std::vector<int64_t> encode(const std::string& text) const;
  TokenBatch encode_batch(const std::vector<std::string>& texts) const;
  // Largest id + 1 the tokenizer emits before <mask> (pieces + fairseq offset).
  int64_t vocab_size() const { return model_->piece_count() + 1; }

 private:
  std::shared_ptr<SentencePieceModel> model_;
  XlmrTokenizerOptions options_;
};

}  // namespace baton::io
