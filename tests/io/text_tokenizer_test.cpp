#include <gtest/gtest.h>

#include "core/error.h"
#include "io/gemma_tokenizer.h"
#include "io/sentencepiece_model.h"
#include "io/tokenizer_training.h"
#include "io/xlmr_tokenizer.h"
#include "tests/support/temp_dir.h"

namespace baton::io {
namespace {

// One tiny model of each kind for the whole suite (training takes a moment).
class TextTokenizers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    write_tiny_gemma_tokenizer(gemma_path(), 384);
    write_tiny_xlmr_tokenizer(xlmr_path(), 192);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string gemma_path() { return dir_->file("tokenizer.model"); }
  static std::string xlmr_path() { return dir_->file("sentencepiece.bpe.model"); }
  static std::vector<int64_t> pieces(const std::string& path, const std::string& text) {
    SentencePieceModel sp(path);
    auto ids = sp.encode(text);
    return std::vector<int64_t>(ids.begin(), ids.end());
  }
  static std::string long_text() {
    std::string t;
    for (int i = 0; i < 400; ++i) t += "a girl with long silver hair in a forest, ";
    return t;
  }
  static test::TempDir* dir_;
};
test::TempDir* TextTokenizers::dir_ = nullptr;

std::vector<int64_t> row(const at::Tensor& t, int64_t b) {
  auto r = t[b].contiguous();
  return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

}  // namespace

TEST_F(TextTokenizers, GemmaPrependsBosAndAddsNoEos) {
  GemmaTokenizer tok(gemma_path());
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.encode(""), (std::vector<int64_t>{2}));  // empty negative: Lc = 1
  const std::string text = "a girl with red eyes, anime style";
  auto p = pieces(gemma_path(), text);
  ASSERT_GT(p.size(), 3u);
  std::vector<int64_t> expected = {2};
  expected.insert(expected.end(), p.begin(), p.end());
  EXPECT_EQ(tok.encode(text), expected);
  EXPECT_NE(tok.encode(text).back(), 1) << "no <eos>";
}

TEST_F(TextTokenizers, GemmaTruncatesAt512IncludingBos) {
  GemmaTokenizer tok(gemma_path());
  auto p = pieces(gemma_path(), long_text());
  ASSERT_GT(p.size(), 600u);
  auto ids = tok.encode(long_text());
  ASSERT_EQ(ids.size(), 512u);
  EXPECT_EQ(ids.front(), 2);
  EXPECT_TRUE(std::equal(ids.begin() + 1, ids.end(), p.begin())) << "the first 511 pieces are kept";
  GemmaTokenizer short_tok(gemma_path(), {/*max_length=*/4, 8});
  EXPECT_EQ(short_tok.encode(long_text()), (std::vector<int64_t>{2, p[0], p[1], p[2]}));
  auto batch = tok.encode_batch({long_text(), ""});
  EXPECT_EQ(batch.input_ids.size(1), 512);  // 512 is already a multiple of 8
}

TEST_F(TextTokenizers, GemmaBatchRightPadsWithZeroToAMultipleOf8) {
  GemmaTokenizer tok(gemma_path());
  const std::string cond = "two cats on a beach at night, watercolor, highly detailed, masterpiece";
  auto batch = tok.encode_batch({cond, ""});
  const int64_t n = static_cast<int64_t>(tok.encode(cond).size());
  ASSERT_GT(n, 8);
  EXPECT_EQ(batch.lengths, (std::vector<int64_t>{n, 1}));
  const int64_t L = (n + 7) / 8 * 8;
  ASSERT_EQ(batch.input_ids.sizes(), (at::IntArrayRef{2, L}));
  EXPECT_EQ(batch.input_ids.scalar_type(), at::kLong);
  auto r0 = row(batch.input_ids, 0), r1 = row(batch.input_ids, 1);
  EXPECT_EQ(std::vector<int64_t>(r0.begin(), r0.begin() + n), tok.encode(cond));
  for (int64_t i = n; i < L; ++i) EXPECT_EQ(r0[i], 0);
  EXPECT_EQ(r1[0], 2);
  for (int64_t i = 1; i < L; ++i) EXPECT_EQ(r1[i], 0);
  auto m0 = row(batch.attention_mask, 0), m1 = row(batch.attention_mask, 1);
  for (int64_t i = 0; i < L; ++i) {
    EXPECT_EQ(m0[i], i < n ? 1 : 0);
    EXPECT_EQ(m1[i], i < 1 ? 1 : 0);
  }
  // A lone empty prompt is [<bos>] padded to 8.
  EXPECT_EQ(tok.encode_batch({""}).input_ids.size(1), 8);
  EXPECT_THROW(tok.encode_batch({}), Error);
}

TEST_F(TextTokenizers, XlmrAppliesTheFairseqOffset) {
  XlmrTokenizer tok(xlmr_path());
  EXPECT_EQ(tok.encode(""), (std::vector<int64_t>{0, 2}));  // empty negative: [<s>, </s>]
  const std::string text = "a knight in the rain, anime style";
  auto p = pieces(xlmr_path(), text);
  ASSERT_GT(p.size(), 3u);
  std::vector<int64_t> expected = {0};
  for (auto id : p) {
    ASSERT_GT(id, 2) << "plain text gives no special pieces";
    expected.push_back(id + 1);
  }
  expected.push_back(2);
  EXPECT_EQ(tok.encode(text), expected);
}

TEST_F(TextTokenizers, XlmrMapsSentencePieceUnknownToUnk3) {
  XlmrTokenizer tok(xlmr_path());
  // The tiny model has no byte fallback; a snowman is unknown to it.
  const std::string text = "a \xe2\x98\x83 girl";
  auto p = pieces(xlmr_path(), text);
  ASSERT_NE(std::find(p.begin(), p.end(), 0), p.end()) << "SentencePiece should return unk (0)";
  auto ids = tok.encode(text);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 3), ids.end());
  EXPECT_EQ(std::find(ids.begin(), ids.end(), 1), ids.end()) << "unk must not become the pad id";
  EXPECT_EQ(ids.size(), p.size() + 2);
}

TEST_F(TextTokenizers, XlmrTruncationKeepsTheEndToken) {
  XlmrTokenizer tok(xlmr_path());  // default 2048
  auto p = pieces(xlmr_path(), long_text() + long_text());
  ASSERT_GT(p.size(), 2100u);
  auto ids = tok.encode(long_text() + long_text());
  ASSERT_EQ(ids.size(), 2048u);
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(ids[2046], p[2045] + 1);
  XlmrTokenizer short_tok(xlmr_path(), {/*max_length=*/5});
  EXPECT_EQ(short_tok.encode(long_text()), (std::vector<int64_t>{0, p[0] + 1, p[1] + 1, p[2] + 1, 2}));
  XlmrTokenizer two(xlmr_path(), {2});
  EXPECT_EQ(two.encode("a girl"), (std::vector<int64_t>{0, 2}));
  EXPECT_THROW(XlmrTokenizer(xlmr_path(), {1}), Error);
}

TEST_F(TextTokenizers, XlmrBatchRightPadsWithOneToTheLongest) {
  XlmrTokenizer tok(xlmr_path());
  const std::string cond = "a dragon under cherry blossoms";
  auto batch = tok.encode_batch({cond, ""});
  const int64_t n = static_cast<int64_t>(tok.encode(cond).size());
  ASSERT_EQ(batch.input_ids.sizes(), (at::IntArrayRef{2, n}));  // no rounding up
  EXPECT_EQ(batch.lengths, (std::vector<int64_t>{n, 2}));
  auto r1 = row(batch.input_ids, 1);
  EXPECT_EQ(r1[0], 0);
  EXPECT_EQ(r1[1], 2);
  for (int64_t i = 2; i < n; ++i) EXPECT_EQ(r1[i], 1);
  EXPECT_EQ(row(batch.attention_mask, 1)[2], 0);
  EXPECT_THROW(tok.encode_batch({}), Error);
}

TEST_F(TextTokenizers, MissingModelIsAClearError) {
  EXPECT_THROW(GemmaTokenizer(dir_->file("absent.model")), Error);
  EXPECT_THROW(XlmrTokenizer(dir_->file("absent.model")), Error);
  // An XLM-R model has no <pad> piece: not a Gemma tokenizer.
  EXPECT_THROW(GemmaTokenizer{xlmr_path()}, Error);
}

}  // namespace baton::io
