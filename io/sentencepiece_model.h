#pragma once
// A loaded SentencePiece model (tokenizer.model, sentencepiece.bpe.model) and
// SentencePiece training, through the privately loaded shim of
// io/sentencepiece_shim.cpp (see there for why).
#include <memory>
#include <string>
#include <vector>

namespace baton::io {

class SentencePieceModel {
 public:
  // Throws Error naming the file if it is missing or not a SentencePiece model.
  explicit SentencePieceModel(const std::string& path);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // Piece ids of `text` (no special tokens added).
  std::vector<int> encode(const std::string& text) const;
  std::string id_to_piece(int id) const;
  int piece_count() const;
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  int unk_id() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* handle_ = nullptr;
};

// Trains a model with SentencePiece's command-line style `flags`
// ("--model_prefix=... --vocab_size=..."), reading sentences from `lines`.
void train_sentencepiece(const std::string& flags, const std::vector<std::string>& lines);

}  // namespace baton::io
