#include <gtest/gtest.h>

#include "core/error.h"
#include "io/sentencepiece_model.h"
#include "io/tokenizer_training.h"
#include "tests/support/temp_dir.h"

namespace baton::io {

TEST(TokenizerTraining, GemmaStyleSpecialIds) {
  test::TempDir dir;
  write_tiny_gemma_tokenizer(dir.file("tokenizer.model"), 384);
  SentencePieceModel sp(dir.file("tokenizer.model"));
  EXPECT_EQ(sp.pad_id(), 0);
  EXPECT_EQ(sp.eos_id(), 1);
  EXPECT_EQ(sp.bos_id(), 2);
  EXPECT_EQ(sp.unk_id(), 3);
  EXPECT_EQ(sp.piece_count(), 384);
  auto ids = sp.encode("a girl with red eyes \xe2\x98\x83");
  EXPECT_GT(ids.size(), 3u);
  for (int id : ids) EXPECT_NE(id, sp.unk_id()) << "byte fallback should cover every character";
}

TEST(TokenizerTraining, XlmrStyleSpecialIdsAndDeterminism) {
  test::TempDir dir;
  write_tiny_xlmr_tokenizer(dir.file("a.model"), 192);
  write_tiny_xlmr_tokenizer(dir.file("b.model"), 192);
  SentencePieceModel a(dir.file("a.model")), b(dir.file("b.model"));
  EXPECT_EQ(a.unk_id(), 0);
  EXPECT_EQ(a.bos_id(), 1);
  EXPECT_EQ(a.eos_id(), 2);
  EXPECT_EQ(a.pad_id(), -1);
  auto ia = a.encode("a knight in the rain, anime style");
  auto ib = b.encode("a knight in the rain, anime style");
  EXPECT_EQ(ia, ib);
}

TEST(SentencePieceModel, MissingOrBrokenFileIsAClearError) {
  test::TempDir dir;
  EXPECT_THROW(SentencePieceModel(dir.file("absent.model")), Error);
  { std::FILE* f = std::fopen(dir.file("junk.model").c_str(), "w"); std::fputs("not a model", f); std::fclose(f); }
  try {
    SentencePieceModel m(dir.file("junk.model"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a SentencePiece model"), std::string::npos) << e.what();
  }
}

}  // namespace baton::io
