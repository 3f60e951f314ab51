#pragma once
// Messages with one tensor of every dtype the wire carries, and the check that
// a received one equals what was sent (values, dtypes, shapes, header).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "transport/message.h"

namespace baton::transport::test {

// Values depend on `seed` so that messages in a sequence differ.
inline Message sample_message(int64_t seed) {
  Message m;
  m.header.set_request_id(1000 + seed);
  m.header.set_step(static_cast<int>(seed));
  m.header.set_branch(seed % 2 ? wire::UNCOND : wire::COND);
  auto base = at::arange(0, 24, at::kDouble).add(static_cast<double>(seed));
  m.add("f32", base.to(at::kFloat).reshape({2, 3, 4}).div(7));
  m.add("bf16", base.to(at::kBFloat16).reshape({4, 6}).mul(0.25));
  m.add("f16", base.to(at::kHalf).reshape({1, 2, 3, 4}).sub(3));
  m.add("i64", base.to(at::kLong).mul(-123456789));
  m.add("bool", base.to(at::kLong).remainder(3).eq(0).reshape({6, 4}));
  m.add("scalar", at::scalar_tensor(static_cast<double>(seed) + 0.5, at::kFloat));
  m.add("empty", at::empty({0, 5}, at::kFloat));
  m.add("strided", base.to(at::kFloat).reshape({4, 6}).t());  // not contiguous: sent as a contiguous copy
  return m;
}

inline void expect_same_message(const Message& got, const Message& sent) {
  EXPECT_EQ(got.header.request_id(), sent.header.request_id());
  EXPECT_EQ(got.header.step(), sent.header.step());
  EXPECT_EQ(got.header.branch(), sent.header.branch());
  ASSERT_EQ(got.tensors.size(), sent.tensors.size());
  for (size_t i = 0; i < sent.tensors.size(); ++i) {
    const auto& a = got.tensors[i];
    const auto& b = sent.tensors[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.tensor.scalar_type(), b.tensor.scalar_type()) << b.name;
    EXPECT_EQ(a.tensor.sizes(), b.tensor.sizes()) << b.name;
    EXPECT_TRUE(at::equal(a.tensor, b.tensor)) << b.name;
  }
}

}  // namespace baton::transport::test
