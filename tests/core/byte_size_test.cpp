#include <gtest/gtest.h>

#include "core/byte_size.h"
#include "core/error.h"

namespace baton {

TEST(ByteSize, ParsesBinaryUnits) {
  EXPECT_EQ(parse_byte_size("8GiB"), 8 * kGiB);
  EXPECT_EQ(parse_byte_size("6G"), 6 * kGiB);
  EXPECT_EQ(parse_byte_size("512MiB"), 512 * kMiB);
  EXPECT_EQ(parse_byte_size("1.5GiB"), 3 * kGiB / 2);
  EXPECT_EQ(parse_byte_size("4096"), 4096);
  EXPECT_EQ(parse_byte_size("2 kib"), 2048);
}

TEST(ByteSize, RefusesGarbage) {
  EXPECT_THROW(parse_byte_size("lots"), UsageError);
  EXPECT_THROW(parse_byte_size("8 parsecs"), UsageError);
  EXPECT_THROW(parse_byte_size("-1G"), UsageError);
  EXPECT_THROW(parse_byte_size(""), UsageError);
  EXPECT_THROW(parse_byte_size("99999999999T"), UsageError);
}

TEST(ByteSize, Formats) {
  EXPECT_EQ(format_byte_size(96), "96 B");
  EXPECT_EQ(format_byte_size(512 * kMiB), "512.00 MiB");
  EXPECT_EQ(format_byte_size(7 * kGiB + kGiB / 4), "7.25 GiB");
}

}  // namespace baton
