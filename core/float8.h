#pragma once
// The two 8-bit float formats safetensors defines (F8_E4M3 = OCP E4M3FN: no
// infinities, 0x7F/0xFF are NaN, max 448; F8_E5M2: IEEE-like, max 57344, has
// inf). libtorch 1.13 has no float8 dtype, so the safetensors reader and writer
// and the fp8 weight format (models/quantization) code and decode them here.
#include <ATen/ATen.h>

#include <cstdint>

namespace baton {

float float8_e4m3_to_float(uint8_t bits);
float float8_e5m2_to_float(uint8_t bits);

// Round to nearest, ties to even. Finite values beyond the largest finite one
// saturate to it (E4M3 has no infinity; we saturate E5M2 too, except that an
// infinite input stays infinite there). NaN stays NaN.
uint8_t float_to_float8_e4m3(float value);
uint8_t float_to_float8_e5m2(float value);

// float_to_float8_e4m3 of every element of a float32 CPU tensor: uint8 codes of
// the same shape (contiguous). Runs in parallel over the elements.
at::Tensor float8_e4m3_encode(const at::Tensor& values);

}  // namespace baton
