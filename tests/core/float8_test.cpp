// The float8 codecs (core/float8.h): the defining values, round to nearest even
// against a brute-force nearest-code search, and the tensor encoder.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/float8.h"

namespace baton {
namespace {

// The e4m3 code nearest to `v` by searching all finite codes; ties to the even code.
uint8_t nearest_e4m3(float v) {
  const float a = std::fabs(v);
  int best = 0;
  for (int c = 1; c <= 0x7E; ++c) {
    const float dc = std::fabs(float8_e4m3_to_float(uint8_t(c)) - a);
    const float db = std::fabs(float8_e4m3_to_float(uint8_t(best)) - a);
    if (dc < db || (dc == db && c % 2 == 0)) best = c;
  }
  return uint8_t((std::signbit(v) ? 0x80 : 0) | best);
}

}  // namespace

TEST(Float8, DecodesTheDefiningValues) {
  EXPECT_EQ(float8_e4m3_to_float(0x38), 1.0f);
  EXPECT_EQ(float8_e4m3_to_float(0x7E), 448.0f);    // largest finite
  EXPECT_EQ(float8_e4m3_to_float(0x01), 0x1p-9f);   // smallest subnormal
  EXPECT_EQ(float8_e4m3_to_float(0xC0), -2.0f);
  EXPECT_TRUE(std::isnan(float8_e4m3_to_float(0x7F)));
  EXPECT_TRUE(std::isnan(float8_e4m3_to_float(0xFF)));
  EXPECT_EQ(float8_e5m2_to_float(0x3C), 1.0f);
  EXPECT_EQ(float8_e5m2_to_float(0x7B), 57344.0f);  // largest finite
  EXPECT_EQ(float8_e5m2_to_float(0x01), 0x1p-16f);
  EXPECT_TRUE(std::isinf(float8_e5m2_to_float(0x7C)));
  EXPECT_TRUE(std::isnan(float8_e5m2_to_float(0x7D)));
}

TEST(Float8, EncodingRoundsToNearestEvenAndInvertsDecoding) {
  for (int b = 0; b < 256; ++b) {
    const float e4 = float8_e4m3_to_float(uint8_t(b)), e5 = float8_e5m2_to_float(uint8_t(b));
    if (!std::isnan(e4) && b != 0x80) {
      EXPECT_EQ(float_to_float8_e4m3(e4), b) << b;
    }
    if (!std::isnan(e5) && b != 0x80) {
      EXPECT_EQ(float_to_float8_e5m2(e5), b) << b;
    }
  }
  // 1.0625 lies halfway between 1.0 (0x38, even) and 1.125 (0x39): ties to even.
  EXPECT_EQ(float_to_float8_e4m3(1.0625f), 0x38);
  EXPECT_EQ(float_to_float8_e4m3(1.07f), 0x39);
  EXPECT_EQ(float_to_float8_e4m3(1e6f), 0x7E);   // saturates
  EXPECT_EQ(float_to_float8_e4m3(-1e6f), 0xFE);
  EXPECT_EQ(float_to_float8_e5m2(INFINITY), 0x7C);
}

TEST(Float8, E4m3EncoderMatchesTheNearestCodeEverywhere) {
  // Every code's value, both neighbours of every midpoint (and the midpoint itself),
  // subnormals, and values past the largest finite one.
  std::vector<float> values;
  for (int c = 0; c <= 0x7E; ++c) {
    const float lo = float8_e4m3_to_float(uint8_t(c));
    values.push_back(lo);
    if (c == 0x7E) break;
    const float mid = 0.5f * (lo + float8_e4m3_to_float(uint8_t(c + 1)));
    values.insert(values.end(), {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)});
  }
  values.insert(values.end(), {1e-30f, 0x1p-10f, 0x1p-10f * 1.0001f, 0x1p-7f * 1.5f, 449.0f, 463.9f, 464.0f, 1e30f});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto random = (at::randn({20000}, gen) * at::exp(at::randn({20000}, gen) * 4)).contiguous();
  for (int64_t i = 0; i < random.numel(); ++i) values.push_back(random.data_ptr<float>()[i]);
  for (float v : values) {
    EXPECT_EQ(float_to_float8_e4m3(v), nearest_e4m3(v)) << v;
    EXPECT_EQ(float_to_float8_e4m3(-v), nearest_e4m3(-v)) << -v;
  }
  EXPECT_EQ(float_to_float8_e4m3(NAN), 0x7F);
}

TEST(Float8, TensorEncoderEqualsTheScalarOne) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto x = at::randn({37, 129}, gen) * 100;
  const auto codes = float8_e4m3_encode(x);
  ASSERT_EQ(codes.scalar_type(), at::kByte);
  ASSERT_EQ(codes.sizes(), x.sizes());
  const auto xc = x.contiguous();
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_EQ(codes.data_ptr<uint8_t>()[i], float_to_float8_e4m3(xc.data_ptr<float>()[i])) << i;
  // A non-contiguous view encodes its own elements.
  EXPECT_TRUE(at::equal(float8_e4m3_encode(x.t()), codes.t().contiguous()));
  try {
    float8_e4m3_encode(x.to(at::kDouble));
    FAIL() << "a float64 input was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a float32 CPU tensor"), std::string::npos) << e.what();
  }
}

}  // namespace baton
