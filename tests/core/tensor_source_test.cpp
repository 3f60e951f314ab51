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
