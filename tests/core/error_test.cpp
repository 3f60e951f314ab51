#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/log.h"

namespace baton {

TEST(Error, CarriesMessageHintAndContext) {
  try {
    Error e("tensor layers.7.attention.qkv.weight has shape [96, 64], expected [3840, 2304]",
            "the checkpoint does not match its config.json");
    e.with_context("checkpoint /m/transformer");
    throw e;
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "checkpoint /m/transformer: tensor layers.7.attention.qkv.weight has shape "
                 "[96, 64], expected [3840, 2304]");
    EXPECT_EQ(e.hint(), "the checkpoint does not match its config.json");
  }
}

TEST(Error, UsageErrorIsAnError) {
  EXPECT_THROW(throw UsageError("bad option"), Error);
  EXPECT_THROW(require(false, "x"), Error);
  EXPECT_NO_THROW(require(true, "x"));
}

TEST(Dtype, ParsesUserNames) {
  EXPECT_EQ(parse_dtype("bf16"), c10::kBFloat16);
  EXPECT_EQ(parse_dtype("float32"), c10::kFloat);
  EXPECT_EQ(parse_dtype("fp16"), c10::kHalf);
  EXPECT_EQ(dtype_name(c10::kBFloat16), "bf16");
  EXPECT_THROW(parse_dtype("int3"), UsageError);
}

TEST(Log, ParsesLevelsAndRefusesUnknown) {
  EXPECT_EQ(log::parse_level("debug"), spdlog::level::debug);
  EXPECT_EQ(log::parse_level("error"), spdlog::level::err);
  EXPECT_THROW(log::parse_level("loud"), UsageError);
}

}  // namespace baton
