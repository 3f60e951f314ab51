#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/safetensors_file.h"
#include "io/safetensors_writer.h"
#include "tests/support/temp_dir.h"

namespace baton::io {

// Values every dtype represents exactly, so a round trip must be bit-exact.
static at::Tensor sample(StDtype d) {
  auto base = at::tensor({0.0, 1.0, -2.0, 0.5, 3.0, -0.25}, at::kDouble).reshape({2, 3});
  switch (d) {
    case StDtype::BOOL: return base.ne(0);
    case StDtype::U8: return base.abs().mul(4).to(at::kByte);
    case StDtype::I8: return base.mul(4).to(at::kChar);
    case StDtype::I16: return base.mul(1000).to(at::kShort);
    case StDtype::I32: return base.mul(100000).to(at::kInt);
    case StDtype::I64: return base.mul(1e12).to(at::kLong);
    case StDtype::F16: return base.to(at::kHalf);
    case StDtype::BF16: return base.to(at::kBFloat16);
    case StDtype::F64: return base.mul(1.0 / 3.0);
    default: return base.to(at::kFloat);  // F32, F8 (all values exact in both F8 formats)
  }
}

TEST(SafetensorsWriter, EveryDtypeRoundTrips) {
  test::TempDir dir;
  SafetensorsWriter w;
  for (StDtype d : all_st_dtypes()) w.add(std::string("t_") + st_dtype_name(d), sample(d), d);
  w.add("scalar", at::scalar_tensor(2.5, at::kFloat));
  w.add("empty", at::empty({0, 3}, at::kFloat));
  w.set_metadata("format", "pt");
  w.write(dir.file("all.safetensors"));

  SafetensorsFile f(dir.file("all.safetensors"));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (StDtype d : all_st_dtypes()) {
    const std::string name = std::string("t_") + st_dtype_name(d);
    EXPECT_EQ(f.info(name).dtype, d) << name;
    EXPECT_EQ(f.shape(name), (std::vector<int64_t>{2, 3})) << name;
    const auto want = sample(d);
    const bool f8 = d == StDtype::F8_E4M3 || d == StDtype::F8_E5M2;
    const auto got = f.load(name, at::TensorOptions().dtype(f8 ? at::kFloat : want.scalar_type()));
    EXPECT_TRUE(at::equal(got, want)) << name << "\n" << got << "\n" << want;
  }
  EXPECT_EQ(f.load("scalar", at::kFloat).item<float>(), 2.5f);
  EXPECT_EQ(f.shape("empty"), (std::vector<int64_t>{0, 3}));
}

TEST(SafetensorsWriter, LayoutMatchesTheReference) {
  test::TempDir dir;
  SafetensorsWriter w;
  w.add("b_byte", at::ones({3}, at::kByte));
  w.add("a_double", at::ones({3}, at::kDouble));
  w.add("c_half", at::ones({5}, at::kHalf));
  w.write(dir.file("x.safetensors"));
  std::ifstream in(dir.file("x.safetensors"), std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "data buffer must start 8-byte aligned";
  SafetensorsFile f(dir.file("x.safetensors"));
  // Larger elements first, so each tensor is aligned to its element size.
  EXPECT_EQ(f.info("a_double").begin, 0u);
  EXPECT_EQ(f.info("c_half").begin, 24u);
  EXPECT_EQ(f.info("b_byte").begin, 34u);
}

TEST(SafetensorsWriter, WritesAtomicallyAndCleansUpOnFailure) {
  test::TempDir dir;
  SafetensorsWriter w;
  w.add_lazy("bad", {2, 2}, StDtype::F32, [] { return at::zeros({3}); });  // lies about its shape
  EXPECT_THROW(w.write(dir.file("bad.safetensors")), Error);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "no partial or temporary file may remain";
  SafetensorsWriter ok;
  ok.add("x", at::zeros({2}));
  EXPECT_THROW(ok.write(dir.file("no/such/folder/x.safetensors")), Error);
  EXPECT_THROW(ok.add("x", at::zeros({1})), Error);
}

TEST(SafetensorsFile, LoadsStraightIntoTheRequestedDtype) {
  test::TempDir dir;
  SafetensorsWriter w;
  w.add("w", at::arange(6, at::kFloat).reshape({2, 3}), StDtype::BF16);
  w.add("f8", at::tensor({1.0f, -448.0f, 0.015625f}), StDtype::F8_E4M3);
  w.write(dir.file("x.safetensors"));
  SafetensorsFile f(dir.file("x.safetensors"));
  auto bf = f.load("w", at::kBFloat16);
  EXPECT_EQ(bf.scalar_type(), at::kBFloat16);
  auto as_float = f.load("w", at::kFloat);
  EXPECT_EQ(as_float.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(as_float, at::arange(6, at::kFloat).reshape({2, 3})));
  auto f8 = f.load("f8", at::kBFloat16);
  EXPECT_EQ(f8.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(f8.to(at::kFloat), at::tensor({1.0f, -448.0f, 0.015625f})));
  EXPECT_EQ(f.bytes_read(), 12u + 12u + 3u);  // bytes copied per load, whatever the target dtype
}

}  // namespace baton::io
