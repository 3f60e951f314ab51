#include <gtest/gtest.h>

#include "core/error.h"
#include "core/random_tensor_source.h"
#include "core/tensor_metrics.h"
#include "io/gemma_tokenizer.h"
#include "io/tokenizer_training.h"
#include "io/xlmr_tokenizer.h"
#include "tests/support/temp_dir.h"
#include "worker/text/system_prompt.h"
#include "worker/text/text_stage.h"

namespace baton::worker {
namespace {

models::Gemma3Config tiny_gemma() {
  models::Gemma3Config c;
  c.hidden_size = 32;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.intermediate_size = 48;
  c.vocab_size = 384;  // the tiny Gemma tokenizer's pieces
  c.sliding_window = 4;
  c.global_layers = {false, true, false, false};
  return c;
}

models::JinaConfig tiny_jina() {
  models::JinaConfig c;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 64;
  c.vocab_size = 194;  // 192 pieces + fairseq offset + <mask>
  return c;
}

// Tiny tokenizers and random weights shared by the suite.
class TextStageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    io::write_tiny_gemma_tokenizer(dir_->file("tokenizer.model"), 384);
    io::write_tiny_xlmr_tokenizer(dir_->file("sentencepiece.bpe.model"), 192);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  TextStageOptions options(size_t cache = 8) const {
    TextStageOptions o;
    o.gemma = tiny_gemma();
    o.jina = tiny_jina();
    o.gemma_tokenizer_path = dir_->file("tokenizer.model");
    o.xlmr_tokenizer_path = dir_->file("sentencepiece.bpe.model");
    o.cache_capacity = cache;
    return o;
  }
  RandomTensorSource gemma_weights{models::gemma3_tensor_shapes(tiny_gemma()), 7, /*norm_offset=*/0.0};
  RandomTensorSource jina_weights{models::jina_tensor_shapes(tiny_jina()), 8};
  static test::TempDir* dir_;
};
test::TempDir* TextStageTest::dir_ = nullptr;

const std::string kPrompt = "a girl with long silver hair in a forest, anime style";

}  // namespace

TEST(SystemPrompt, PresetsAndDefault) {
  EXPECT_EQ(system_prompt_preset(default_system_prompt_preset()), "");
  EXPECT_EQ(system_prompt_preset("xml"),
            "You are an assistant designed to generate high-quality anime images based on xml format prompts. "
            "<Prompt Start> ");
  EXPECT_NE(system_prompt_preset("plain").find("highest degree of image-text alignment"), std::string::npos);
  try {
    system_prompt_preset("fancy");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'fancy'"), std::string::npos);
    EXPECT_NE(e.hint().find("none, plain, xml"), std::string::npos) << e.hint();
  }
}

TEST(EncodedPromptCache, EvictsTheLeastRecentlyUsed) {
  EncodedPromptCache cache(2);
  auto entry = [](float v) { return EncodedPrompt{at::full({1, 2}, v), at::full({2}, v)}; };
  cache.put("a", entry(1));
  cache.put("b", entry(2));
  ASSERT_TRUE(cache.get("a"));  // a is now the most recent
  cache.put("c", entry(3));     // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.get("b"));
  ASSERT_TRUE(cache.get("a"));
  EXPECT_EQ(cache.get("c")->cap_feats[0][0].item<float>(), 3.f);
  cache.put("c", entry(4));  // replaces, no growth
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.get("c")->clip_pooled[1].item<float>(), 4.f);
  EXPECT_EQ(cache.hits(), 4u);
  EXPECT_EQ(cache.misses(), 1u);
  EncodedPromptCache off(0);
  off.put("a", entry(1));
  EXPECT_EQ(off.size(), 0u);
  EXPECT_FALSE(off.get("a"));
}

TEST_F(TextStageTest, SystemPromptGoesToGemmaOnlyAndNotToAnEmptyNegative) {
  TextStage stage(options(), gemma_weights, jina_weights);
  const std::string sys = system_prompt_preset("xml");
  io::GemmaTokenizer gtok(dir_->file("tokenizer.model"));
  io::XlmrTokenizer xtok(dir_->file("sentencepiece.bpe.model"));
  auto out = stage.encode(sys, {{kPrompt, PromptRole::positive}, {"", PromptRole::negative},
                                {"low quality", PromptRole::negative}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].cap_feats.size(0), static_cast<int64_t>(gtok.encode(sys + kPrompt).size()));
  EXPECT_EQ(out[1].cap_feats.size(0), 1);  // [<bos>]
  EXPECT_EQ(out[2].cap_feats.size(0), static_cast<int64_t>(gtok.encode(sys + "low quality").size()));
  for (const auto& e : out) {
    EXPECT_EQ(e.cap_feats.size(1), 32);
    EXPECT_EQ(e.cap_feats.scalar_type(), at::kFloat);
    EXPECT_TRUE(e.cap_feats.device().is_cpu());
    EXPECT_EQ(e.clip_pooled.sizes(), (at::IntArrayRef{32}));
  }
  // Each row equals encoding that text alone with the models directly.
  models::Gemma3TextModel gemma(tiny_gemma(), gemma_weights, at::kFloat);
  models::JinaTextModel jina(tiny_jina(), jina_weights, at::kFloat);
  auto direct_gemma = [&](const std::string& text) {
    auto b = gtok.encode_batch({text});
    return gemma.forward(b.input_ids, b.attention_mask)[0].narrow(0, 0, b.lengths[0]);
  };
  auto direct_jina = [&](const std::string& text) { return jina.pooled(xtok.encode_batch({text}).input_ids)[0]; };
  EXPECT_LT(relative_l2_error(out[0].cap_feats, direct_gemma(sys + kPrompt)), 1e-5);
  EXPECT_LT(relative_l2_error(out[1].cap_feats, direct_gemma("")), 1e-5);
  EXPECT_LT(relative_l2_error(out[2].cap_feats, direct_gemma(sys + "low quality")), 1e-5);
  // Jina sees the raw prompt, and [<s>, </s>] for the empty negative.
  EXPECT_LT(relative_l2_error(out[0].clip_pooled, direct_jina(kPrompt)), 1e-5);
  EXPECT_LT(relative_l2_error(out[1].clip_pooled, jina.pooled(at::tensor(std::vector<int64_t>{0, 2}).view({1, 2}))[0]),
            1e-5);
  EXPECT_LT(relative_l2_error(out[2].clip_pooled, direct_jina("low quality")), 1e-5);
  // An empty positive prompt still gets the system prompt.
  EXPECT_EQ(TextStage::gemma_text(sys, {"", PromptRole::positive}), sys);
  EXPECT_EQ(TextStage::gemma_text(sys, {"", PromptRole::negative}), "");
}

TEST_F(TextStageTest, CachedPromptsAreNotRecomputed) {
  TextStage stage(options(/*cache=*/2), gemma_weights, jina_weights);
  auto first = stage.encode("", {{kPrompt}, {"", PromptRole::negative}});
  EXPECT_EQ(stage.cache().size(), 2u);
  EXPECT_EQ(stage.cache().misses(), 2u);
  auto again = stage.encode("", {{"another prompt"}, {"", PromptRole::negative}});
  EXPECT_EQ(stage.cache().hits(), 1u);  // the negative
  EXPECT_TRUE(again[1].cap_feats.is_same(first[1].cap_feats));
  // The system prompt is part of the key: the same words are a new entry.
  stage.encode("You are an artist. ", PromptText{kPrompt});
  EXPECT_EQ(stage.cache().hits(), 1u);
  EXPECT_EQ(stage.cache().size(), 2u);  // bounded
  // A duplicate inside one batch is encoded once and shared.
  auto dup = stage.encode("", {{"twin"}, {"twin"}});
  EXPECT_TRUE(dup[0].cap_feats.is_same(dup[1].cap_feats));
}

TEST_F(TextStageTest, GemmaSplitOverTwoPiecesGivesTheSameFeatures) {
  TextStage whole(options(0), gemma_weights, jina_weights);
  auto o = options(0);
  o.gemma_split_layer = 2;
  TextStage split(o, gemma_weights, jina_weights);
  auto a = whole.encode("", PromptText{kPrompt});
  auto b = split.encode("", PromptText{kPrompt});
  EXPECT_TRUE(at::equal(a.cap_feats, b.cap_feats));
  o.gemma_split_layer = 3;  // == used_layers(): not a split
  EXPECT_THROW(TextStage(o, gemma_weights, jina_weights), Error);
}

// Under mpirun the two Gemma pieces may live on two ranks: head + tail equal the whole stage.
TEST_F(TextStageTest, HeadAndTailOnTwoRanksGiveTheWholeStagesFeatures) {
  TextStage whole(options(0), gemma_weights, jina_weights);
  auto o = options(0);
  o.gemma_split_layer = 2;
  o.part = TextStageOptions::Part::Head;
  TextStage head(o, gemma_weights, jina_weights);
  o.part = TextStageOptions::Part::Tail;
  TensorMap no_jina;  // the tail never reads Jina
  TextStage tail(o, gemma_weights, no_jina);
  const std::vector<PromptText> prompts = {{kPrompt}, {"", PromptRole::negative}};
  auto expected = whole.encode("You are an artist. ", prompts);
  auto half = head.encode_head("You are an artist. ", prompts);
  EXPECT_EQ(half.hidden.size(0), 2);
  auto got = tail.encode_tail(half);
  ASSERT_EQ(got.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(at::equal(got[i].cap_feats, expected[i].cap_feats)) << i;
    EXPECT_TRUE(at::equal(got[i].clip_pooled, expected[i].clip_pooled)) << i;
  }
  EXPECT_THROW(head.encode("", prompts), Error);
  EXPECT_THROW(head.encode_tail(half), Error);
  half.mask = half.mask.narrow(1, 0, 1);
  EXPECT_THROW(tail.encode_tail(half), Error);
  o.gemma_split_layer = 0;
  EXPECT_THROW(TextStage(o, gemma_weights, jina_weights), Error);
}

TEST_F(TextStageTest, RunsInBf16OnTheCpu) {
  auto o = options(0);
  o.dtype = at::kBFloat16;
  TextStage bf16(o, gemma_weights, jina_weights);
  TextStage f32(options(0), gemma_weights, jina_weights);
  auto a = bf16.encode("", PromptText{kPrompt});
  auto b = f32.encode("", PromptText{kPrompt});
  EXPECT_EQ(a.cap_feats.scalar_type(), at::kFloat);
  EXPECT_LT(relative_l2_error(a.cap_feats, b.cap_feats), 5e-2);
  EXPECT_LT(relative_l2_error(a.clip_pooled, b.clip_pooled), 5e-2);
}

TEST_F(TextStageTest, GemmaWeightsIn8BitsAreSmallerAndClose) {
  TextStage dense(options(0), gemma_weights, jina_weights);
  auto o = options(0);
  o.gemma_weights = WeightFormat::kInt8;
  o.gemma_split_layer = 2;  // both pieces honour the format
  TextStage int8(o, gemma_weights, jina_weights);
  const auto a = int8.encode("", PromptText{kPrompt});
  const auto b = dense.encode("", PromptText{kPrompt});
  const double err = relative_l2_error(a.cap_feats, b.cap_feats);
  EXPECT_GT(err, 1e-4);  // really quantised
  EXPECT_LT(err, 5e-2);
  EXPECT_TRUE(at::equal(a.clip_pooled, b.clip_pooled));  // Jina stays dense
  // Gemma's matrices shrink from 4 bytes to 1 (plus a scale per row); Jina's do not.
  const int64_t dense_bytes = dense.weight_bytes().front().second, int8_bytes = int8.weight_bytes().front().second;
  EXPECT_LT(int8_bytes, dense_bytes * 0.6);
}

TEST_F(TextStageTest, MissingWeightsAreNamed) {
  TensorMap empty;
  try {
    TextStage stage(options(), empty, jina_weights);
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("loading the Gemma3 text encoder"), std::string::npos) << msg;
    EXPECT_NE(msg.find("embed_tokens.weight is missing"), std::string::npos) << msg;
  }
  TextStage stage(options(), gemma_weights, jina_weights);
  EXPECT_THROW(stage.encode("", std::vector<PromptText>{}), Error);
}

}  // namespace baton::worker
