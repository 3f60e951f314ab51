// LinearWeight (models/quantization): the dense path is at::linear on the very
// tensor loaded, the 8-bit formats keep one byte per element plus a float32
// scale per output row, and what they compute is exactly x (codes * scale)^T.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"
#include "core/float8.h"
#include "models/quantization/linear_weight.h"
#include "tests/support/error_message.h"

namespace baton::models {
namespace {

using test::error_of;

const auto kF32 = at::TensorOptions().dtype(at::kFloat);

at::Tensor random(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen);
}

}  // namespace

TEST(LinearWeight, DenseIsTheLoadedTensorAndPlainLinear) {
  const auto w = random({48, 32}, 1), x = random({5, 32}, 2), b = random({48}, 3);
  const LinearWeight lw(w);
  EXPECT_FALSE(lw.quantized());
  EXPECT_EQ(lw.format(), WeightFormat::kFp32);
  EXPECT_EQ(lw.data().data_ptr(), w.data_ptr());  // no copy
  EXPECT_TRUE(at::equal(lw.apply(x), at::linear(x, w)));
  EXPECT_TRUE(at::equal(lw.apply(x, b), at::linear(x, w, b)));
  EXPECT_EQ(lw.narrow_rows(8, 16).data().data_ptr(), w.narrow(0, 8, 16).data_ptr());
  EXPECT_EQ(lw.bytes(), 48 * 32 * 4);
  EXPECT_EQ(LinearWeight(w.to(at::kBFloat16)).format(), WeightFormat::kBf16);
  const auto ids = at::tensor({3, 0, 47}, at::kLong);
  EXPECT_TRUE(at::equal(lw.rows_at(ids, at::kFloat), at::embedding(w, ids)));
  // A dense format through quantize() is only a move to the options.
  EXPECT_TRUE(at::equal(LinearWeight::quantize(w, WeightFormat::kBf16, kF32).data(), w));
}

TEST(LinearWeight, Int8IsExactOnItsGridWithAScalePerRow) {
  // Row r = s_r * k with integers |k| <= 127 and max |k| = 127: quantising loses nothing.
  auto k = at::randint(-127, 128, {6, 40}, at::make_generator<at::CPUGeneratorImpl>(4), kF32);
  k.select(1, 0).fill_(127);
  const auto s = at::tensor({0.5f, 0.25f, 2.0f, 1.0f / 64, 8.0f, 0.125f});
  const auto w = k * s.unsqueeze(1);
  const auto q = LinearWeight::quantize(w, WeightFormat::kInt8, kF32);
  EXPECT_TRUE(q.quantized());
  EXPECT_EQ(q.format(), WeightFormat::kInt8);
  EXPECT_EQ(q.data().scalar_type(), at::kChar);
  EXPECT_EQ(q.scale().scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(q.scale(), s));  // max |row| / 127
  EXPECT_TRUE(at::equal(q.data().to(at::kFloat), k));
  EXPECT_TRUE(at::equal(q.dequantize(at::kFloat), w));
  EXPECT_EQ(q.bytes(), 6 * 40 + 6 * 4);
}

TEST(LinearWeight, Int8ErrorIsAtMostHalfAStepPerRow) {
  const auto w = random({64, 256}, 5);
  const auto q = LinearWeight::quantize(w, WeightFormat::kInt8, kF32);
  const auto err = (q.dequantize(at::kFloat) - w).abs().amax({1});
  EXPECT_TRUE(at::all(err <= q.scale() * 0.5001).item<bool>());
  EXPECT_TRUE(at::equal(q.scale(), w.abs().amax({1}) / 127));
}

TEST(LinearWeight, Fp8StoresE4m3CodesOfTheScaledRows) {
  const auto w = random({32, 64}, 6);
  const auto q = LinearWeight::quantize(w, WeightFormat::kFp8, kF32);
  EXPECT_EQ(q.format(), WeightFormat::kFp8);
  EXPECT_EQ(q.data().scalar_type(), at::kByte);
  EXPECT_TRUE(at::equal(q.scale(), w.abs().amax({1}) / 448));
  EXPECT_TRUE(at::equal(q.data(), float8_e4m3_encode(w / q.scale().unsqueeze(1))));
  // Each dequantised element is its code's value times the row scale...
  const auto deq = q.dequantize(at::kFloat);
  const auto codes = q.data().contiguous();
  for (int64_t r : {0, 17, 31})
    for (int64_t c : {0, 5, 63})
      EXPECT_EQ(deq[r][c].item<float>(),
                float8_e4m3_to_float(codes[r][c].item<uint8_t>()) * q.scale()[r].item<float>());
  // ...within half an e4m3 step (2^-4 relative) of the weight, away from the subnormals.
  const auto normal = w.abs() >= q.scale().unsqueeze(1) * 0x1p-6;
  EXPECT_TRUE(at::all(((deq - w).abs() <= w.abs() * 0.0625 + 1e-7).masked_select(normal)).item<bool>());
}

TEST(LinearWeight, QuantisedApplyIsLinearWithTheDequantisedWeight) {
  const auto w = random({48, 32}, 7), x = random({3, 5, 32}, 8), b = random({48}, 9);
  for (auto format : {WeightFormat::kInt8, WeightFormat::kFp8}) {
    const auto q = LinearWeight::quantize(w, format, kF32);
    const auto deq = q.dequantize(at::kFloat);
    EXPECT_TRUE(at::equal(q.apply(x), at::linear(x, deq)));
    EXPECT_TRUE(at::equal(q.apply(x, b), at::linear(x, deq, b)));
    // bf16: the same values rounded once.
    EXPECT_TRUE(at::equal(q.dequantize(at::kBFloat16), deq.to(at::kBFloat16)));
    // Rows of an embedding table, and row views, dequantise the same rows.
    const auto ids = at::tensor({3, 0, 47, 3}, at::kLong).view({2, 2});
    EXPECT_TRUE(at::equal(q.rows_at(ids, at::kFloat), at::embedding(deq, ids)));
    EXPECT_TRUE(at::equal(q.narrow_rows(16, 8).dequantize(at::kFloat), deq.narrow(0, 16, 8)));
    EXPECT_EQ(q.narrow_rows(16, 8).data().data_ptr(), q.data().narrow(0, 16, 8).data_ptr());
  }
}

TEST(LinearWeight, LoadStacksPartsLikeOneMatrix) {
  TensorMap source;
  source.insert("q", random({8, 16}, 10));
  source.insert("k", random({4, 16}, 11));
  const std::vector<LinearWeight::Part> parts{{"q", {8, 16}}, {"k", {4, 16}}};
  const auto stacked = at::cat({source.load("q", kF32), source.load("k", kF32)});
  EXPECT_TRUE(at::equal(LinearWeight::load(source, parts, kF32, WeightFormat::kFp32).data(), stacked));
  for (auto format : {WeightFormat::kInt8, WeightFormat::kFp8}) {
    const auto q = LinearWeight::load(source, parts, kF32, format);
    const auto ref = LinearWeight::quantize(stacked, format, kF32);  // rows are independent
    EXPECT_TRUE(at::equal(q.data(), ref.data()));
    EXPECT_TRUE(at::equal(q.scale(), ref.scale()));
  }
}

TEST(LinearWeight, ZeroRowsAndBadWeightsAreHandled) {
  auto w = random({4, 8}, 12);
  w[2].zero_();
  for (auto format : {WeightFormat::kInt8, WeightFormat::kFp8}) {
    const auto deq = LinearWeight::quantize(w, format, kF32).dequantize(at::kFloat);
    EXPECT_TRUE(at::equal(deq[2], at::zeros({8})));
    EXPECT_TRUE(at::isfinite(deq).all().item<bool>());
  }
  TensorMap source;
  auto bad = random({4, 8}, 13);
  bad[1][3] = INFINITY;
  source.insert("layers.0.w", bad);
  EXPECT_NE(error_of([&] { LinearWeight::load(source, {{"layers.0.w", {4, 8}}}, kF32, WeightFormat::kInt8); })
                .find("quantising layers.0.w to int8: the weight has non-finite values"),
            std::string::npos);
  EXPECT_NE(error_of([&] { LinearWeight::load(source, {{"layers.0.w", {8, 4}}}, kF32, WeightFormat::kFp8); })
                .find("layers.0.w"),
            std::string::npos);
  EXPECT_NE(error_of([&] { LinearWeight::quantize(random({8}, 1), WeightFormat::kInt8, kF32); })
                .find("must be a matrix [out, in], got [8]"),
            std::string::npos);
}

}  // namespace baton::models
