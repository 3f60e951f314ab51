#pragma once
// The Gemma3 tokenizer as NewBie calls it (spec C.4): SentencePiece pieces
// with <bos> prepended, no <eos>, truncation at 512 tokens (incl. <bos>),
// batches right padded with <pad> to the longest row rounded up to 8.
#include <memory>
#include <string>
#include <vector>

#include "io/sentencepiece_model.h"
#include "io/token_batch.h"

namespace baton::io {

struct GemmaTokenizerOptions {
  int64_t max_length = 512;        // tokens per text incl. <bos>
  int64_t pad_to_multiple_of = 8;
};

class GemmaTokenizer {
 public:
  // `model_path`: Gemma's tokenizer.model. Its own <bos> and <pad> ids are used
  // (2 and 0 in the released one); a model without them is refused.
  explicit GemmaTokenizer(const std::string& model_path, GemmaTokenizerOptions options = {});

  // [<bos>, pieces...], truncated to max_length.
  std::vector<int64_t> encode(const std::string& text) const;
  // Every text encoded, right padded with <pad>.
  TokenBatch encode_batch(const std::vector<std::string>& texts) const;

  int64_t bos_id() const { return bos_; }
  int64_t pad_id() const { return pad_; }
  int64_t vocab_size() const { return model_->piece_count(); }

 private:
  std::shared_ptr<SentencePieceModel> model_;
  GemmaTokenizerOptions options_;
  int64_t bos_ = 2, pad_ = 0;
};

}  // namespace baton::io
