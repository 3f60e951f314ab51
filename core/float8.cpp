#include "core/float8.h"

#include <ATen/Parallel.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace baton {
namespace {

// Decodes sign | exponent (E bits) | mantissa (M bits) with the given bias;
// subnormals when the exponent is 0.
float decode(uint8_t bits, int exp_bits, int man_bits, int bias) {
  const bool negative = bits & 0x80;
  const int exponent = (bits >> man_bits) & ((1 << exp_bits) - 1);
  const int mantissa = bits & ((1 << man_bits) - 1);
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(mantissa), 1 - bias - man_bits);
  else
    magnitude = std::ldexp(static_cast<float>(mantissa + (1 << man_bits)), exponent - bias - man_bits);
  return negative ? -magnitude : magnitude;
}

struct Table {
  std::array<float, 256> value{};
};

const Table& e4m3_table() {
  static const Table t = [] {
    Table r;
    for (int b = 0; b < 256; ++b)
      r.value[b] = (b & 0x7F) == 0x7F ? std::numeric_limits<float>::quiet_NaN() : decode(uint8_t(b), 4, 3, 7);
    return r;
  }();
  return t;
}

const Table& e5m2_table() {
  static const Table t = [] {
    Table r;
    for (int b = 0; b < 256; ++b) {
      const int exponent = (b >> 2) & 0x1F;
      if (exponent == 0x1F)
        r.value[b] = (b & 3) ? std::numeric_limits<float>::quiet_NaN()
                             : ((b & 0x80) ? -std::numeric_limits<float>::infinity()
                                           : std::numeric_limits<float>::infinity());
      else
        r.value[b] = decode(uint8_t(b), 5, 2, 15);
    }
    return r;
  }();
  return t;
}

// Nearest code among the finite non-negative codes 0..max_code (their values
// increase with the code), ties to the even code (= even mantissa).
uint8_t encode(float value, const Table& table, int max_code, uint8_t nan_code) {
  if (std::isnan(value)) return nan_code;
  const uint8_t sign = std::signbit(value) ? 0x80 : 0;
  const float a = std::fabs(value);
  int lo = 0, hi = max_code;
  if (a >= table.value[max_code]) return uint8_t(sign | max_code);
  while (hi - lo > 1) {  // invariant: value[lo] <= a < value[hi]
    const int mid = (lo + hi) / 2;
    if (table.value[mid] <= a) lo = mid; else hi = mid;
  }
  const float dlo = a - table.value[lo], dhi = table.value[hi] - a;
  const int code = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
  return uint8_t(sign | code);
}

}  // namespace

float float8_e4m3_to_float(uint8_t bits) { return e4m3_table().value[bits]; }
float float8_e5m2_to_float(uint8_t bits) { return e5m2_table().value[bits]; }

// E4M3 by bit manipulation (the weight quantiser encodes billions of values):
// the float32 mantissa rounded to 3 bits, ties to even, a carry moving into the
// exponent; values under 2^-6 are E4M3 subnormals, multiples of 2^-9.
uint8_t float_to_float8_e4m3(float value) {
  if (std::isnan(value)) return 0x7F;
  const uint8_t sign = std::signbit(value) ? 0x80 : 0;
  const float a = std::fabs(value);
  if (a >= 448.0f) return uint8_t(sign | 0x7E);
  if (a < 0x1p-6f) return uint8_t(sign | static_cast<uint8_t>(std::nearbyint(a * 512.0f)));
  uint32_t bits;
  std::memcpy(&bits, &a, sizeof bits);
  const uint32_t rounded = (bits + 0x7FFFFu + ((bits >> 20) & 1u)) >> 20;  // exponent << 3 | 3 mantissa bits
  const uint32_t code = rounded - ((127u - 7u) << 3);                         // rebias 127 -> 7
  return uint8_t(sign | (code > 0x7Eu ? 0x7Eu : code));
}

at::Tensor float8_e4m3_encode(const at::Tensor& values) {
  require(values.scalar_type() == at::kFloat && values.device().is_cpu(),
          "float8_e4m3_encode needs a float32 CPU tensor, got " + std::string(c10::toString(values.scalar_type())) +
              " on " + values.device().str());
  const auto in = values.contiguous();
  auto out = at::empty(in.sizes(), in.options().dtype(at::kByte));
  const float* src = in.data_ptr<float>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  at::parallel_for(0, in.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = float_to_float8_e4m3(src[i]);
  });
  return out;
}

uint8_t float_to_float8_e5m2(float value) {
  if (std::isinf(value)) return value > 0 ? 0x7C : 0xFC;
  return encode(value, e5m2_table(), 0x7B, 0x7F);
}

}  // namespace baton
