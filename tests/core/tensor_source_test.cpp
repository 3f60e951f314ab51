#include <gtest/gtest.h>

#include "core/error.h"
#include "core/tensor_source.h"

namespace baton {

TEST(TensorSource, LoadCheckedNamesTensorAndShapes) {
  TensorMap map({{"layers.7.attention.qkv.weight", at::zeros({96, 64})}}, "checkpoint /m/transformer");
  try {
    map.load_checked("layers.7.attention.qkv.weight", {3840, 2304}, at::kFloat);
    FAIL() << "expected a shape error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "checkpoint /m/transformer: tensor layers.7.attention.qkv.weight has shape "
                 "[96, 64], expected [3840, 2304]");
  }
  EXPECT_THROW(map.load_checked("nope", {1}, at::kFloat), Error);
  auto t = map.load_checked("layers.7.attention.qkv.weight", {96, 64}, at::kBFloat16);
  EXPECT_EQ(t.scalar_type(), at::kBFloat16);
}

TEST(TensorSource, PrefixedViewStripsPrefix) {
  TensorMap map;
  map.insert("layers.3.w", at::ones({2}));
  map.insert("layers.30.w", at::ones({3}));
  map.insert("x", at::ones({1}));
  PrefixedSource view(map, "layers.3.");
  EXPECT_TRUE(view.contains("w"));
  EXPECT_EQ(view.shape("w"), (std::vector<int64_t>{2}));
  EXPECT_EQ(view.names(), std::vector<std::string>{"w"});
  EXPECT_FALSE(view.contains("x"));
}

}  // namespace baton

#include "core/random_tensor_source.h"

namespace baton {

TEST(RandomTensorSource, ValuesDependOnSeedAndNameOnly) {
  std::map<std::string, std::vector<int64_t>> shapes = {
      {"a.weight", {64, 32}}, {"b.norm.weight", {32}}, {"b.bias", {32}}};
  RandomTensorSource s1(shapes, 7), s2(shapes, 7), s3(shapes, 8);
  auto b1 = s1.load("b.bias", at::kFloat);  // drawn before a.weight here, after it below
  auto a1 = s1.load("a.weight", at::kFloat);
  auto a2 = s2.load("a.weight", at::kFloat);
  EXPECT_TRUE(at::equal(a1, a2));
  EXPECT_TRUE(at::equal(b1, s2.load("b.bias", at::kFloat)));
  EXPECT_FALSE(at::equal(a1, s3.load("a.weight", at::kFloat)));
  // Fan-in scaling: std ~ 1/sqrt(32); norm weights around 1.
  EXPECT_NEAR(a1.std().item<double>(), 1.0 / std::sqrt(32.0), 0.02);
  EXPECT_NEAR(s1.load("b.norm.weight", at::kFloat).mean().item<double>(), 1.0, 0.02);
  EXPECT_EQ(s1.load("a.weight", at::kBFloat16).scalar_type(), at::kBFloat16);
  EXPECT_THROW(s1.load("c", at::kFloat), Error);
}

}  // namespace baton
