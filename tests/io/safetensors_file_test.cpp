#include <gtest/gtest.h>

#include "core/error.h"
#include "io/safetensors_file.h"
#include "tests/support/temp_dir.h"

namespace baton::io {

TEST(SafetensorsFile, ReadsGoldenHeaderAndTensors) {
  SafetensorsFile f(test::test_data("dit_a.safetensors"));
  ASSERT_TRUE(f.metadata().count("config"));
  EXPECT_EQ(f.shape("in.x"), (std::vector<int64_t>{2, 16, 8, 12}));
  auto x = f.load("in.x", at::kFloat);
  EXPECT_EQ(x.sizes(), (at::IntArrayRef{2, 16, 8, 12}));
  EXPECT_EQ(f.bytes_read(), uint64_t(2 * 16 * 8 * 12 * 4));
  EXPECT_THROW(f.load("no.such.tensor", at::kFloat), Error);
}

TEST(SafetensorsFile, MissingFileIsAClearError) {
  try {
    SafetensorsFile f("/nonexistent/model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.safetensors: cannot open"), std::string::npos);
  }
}

}  // namespace baton::io
