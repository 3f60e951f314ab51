#include "io/gemma_tokenizer.h"

#include "core/error.h"

namespace baton::io {

GemmaTokenizer::GemmaTokenizer(const std::string& model_path, GemmaTokenizerOptions options)
    : model_(std::make_shared<SentencePieceModel>(model_path)), options_(options) {
  require(options_.max_length >= 1, "Gemma tokenizer: max_length must be >= 1 (it counts <bos>)");
  require(options_.pad_to_multiple_of >= 1, "Gemma tokenizer: pad_to_multiple_of must be >= 1");
  bos_ = model_->bos_id();
  pad_ = model_->pad_id();
  require(bos_ >= 0 && pad_ >= 0, "tokenizer model " + model_path + " has no <bos> or no <pad> piece",
          "use the Gemma3 tokenizer.model of the text encoder");
}

std::vector<int64_t> GemmaTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids = {bos_};
  for (int id : model_->encode(text)) {
    if (static_cast<int64_t>(ids.size()) >= options_.max_length) break;
    ids.push_back(id);
  }
  return ids;
}

TokenBatch GemmaTokenizer::encode_batch(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int64_t>> rows;
  for (const auto& t : texts) rows.push_back(encode(t));
  return pad_right(rows, pad_, options_.pad_to_multiple_of);
}

}  // namespace baton::io
