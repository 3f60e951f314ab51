#include "io/xlmr_tokenizer.h"

#include "core/error.h"

namespace baton::io {

XlmrTokenizer::XlmrTokenizer(const std::string& model_path, XlmrTokenizerOptions options)
    : model_(std::make_shared<SentencePieceModel>(model_path)), options_(options) {
  require(options_.max_length >= 2, "XLM-R tokenizer: max_length must be >= 2 (it counts <s> and </s>)");
}

std::vector<int64_t> XlmrTokenizer::encode(const std::string& text) const {
  const int unk = model_->unk_id();
  std::vector<int64_t> ids = {kBos};
  for (int p : model_->encode(text)) {
    if (static_cast<int64_t>(ids.size()) >= options_.max_length - 1) break;  // room for </s>
    ids.push_back(p == unk ? kUnk : p + 1);  // fairseq offset; SentencePiece's unk -> <unk>
  }
  ids.push_back(kEos);
  return ids;
}

TokenBatch XlmrTokenizer::encode_batch(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int64_t>> rows;
  for (const auto& t : texts) rows.push_back(encode(t));
  return pad_right(rows, kPad);
}

}  // namespace baton::io
