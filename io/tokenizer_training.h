#pragma once
// Tiny SentencePiece models trained on the spot, so tests and
// `baton make-tiny-model` have real tokenizers without downloading anything.
// Special ids follow the released tokenizers (spec C.1/C.4 and D.4).
#include <cstdint>
#include <string>

namespace baton::io {

// Gemma-style: pad 0, eos 1, bos 2, unk 3, byte fallback. `vocab_size` >= 300.
// Writes a SentencePiece model file (the format of Gemma's tokenizer.model).
void write_tiny_gemma_tokenizer(const std::string& model_path, int64_t vocab_size = 384);

// XLM-R-style (sentencepiece.bpe.model): SentencePiece ids unk 0, bos 1, eos 2;
// the fairseq offset (HF ids <s>=0, <pad>=1, </s>=2, <unk>=3, piece p -> p+1)
// is applied by the tokenizer, not stored in the model. `vocab_size` >= 64;
// the built-in corpus yields at most 127 unigram pieces (asking for more gives 127).
void write_tiny_xlmr_tokenizer(const std::string& model_path, int64_t vocab_size = 96);

}  // namespace baton::io
