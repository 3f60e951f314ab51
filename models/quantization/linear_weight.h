#pragma once
// The weight W [out, in] of a linear layer as a stage stores it
// (docs/quantization.md): dense in the compute dtype, or 8-bit with one float32
// scale per output channel (row), W = codes * scale[row]:
//   int8: codes = round(W / s), s = max|row| / 127 (weight-only: dequantised on the fly);
//   fp8:  codes = e4m3(W / s), s = max|row| / 448, stored as uint8 e4m3 bytes (core/float8.h);
//         on CUDA with FP8 matrix units the GEMM runs in e4m3 (compat::fp8_linear).
// 8-bit weights are quantised on the CPU, tensor by tensor, before they move to
// the device: the device never holds a dense copy of them.
#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "core/tensor_source.h"
#include "core/weight_format.h"

namespace baton::models {

class LinearWeight {
 public:
  LinearWeight() = default;
  // A dense weight, used as it is (no copy).
  explicit LinearWeight(at::Tensor dense);

  // `dense` [out, in] (any floating dtype and device) in `format` on options'
  // device: 8-bit formats are quantised on the CPU, in float32, and only the
  // codes and scales move; dense formats give dense.to(options).
  static LinearWeight quantize(const at::Tensor& dense, WeightFormat format, const at::TensorOptions& options);

  // One named tensor and its expected shape.
  using Part = std::pair<std::string, std::vector<int64_t>>;
  // Loads `parts` from `source` and stacks them along rows (q|k|v, gate|up).
  // Dense formats load straight in `options` (dtype and device; one part: no
  // copy at all); 8-bit formats load each part to the CPU in float32 and
  // quantise it there. Errors name the tensor.
  static LinearWeight load(const TensorSource& source, const std::vector<Part>& parts, const at::TensorOptions& options,
                           WeightFormat format);

  // x [..., in] -> x W^T (+ bias [out]) in x's dtype.
  at::Tensor apply(const at::Tensor& x, const at::Tensor& bias = {}) const;
  // Rows `ids` of W (an embedding table) in `dtype`: [ids..., in].
  at::Tensor rows_at(const at::Tensor& ids, at::ScalarType dtype) const;
  // W as a dense tensor in `dtype` (what apply multiplies with, unless the
  // fp8 matrix units do the work).
  at::Tensor dequantize(at::ScalarType dtype) const;
  // Rows [begin, begin + count): a view (q|k of a fused qkv), no copy.
  LinearWeight narrow_rows(int64_t begin, int64_t count) const;

  bool defined() const { return data_.defined(); }
  bool quantized() const { return scale_.defined(); }
  // kInt8 / kFp8, or the dense dtype's format.
  WeightFormat format() const { return format_; }
  int64_t out_features() const { return data_.size(0); }
  int64_t in_features() const { return data_.size(1); }
  // Bytes held: the weight (or its codes) plus the scales.
  int64_t bytes() const;
  // The dense weight, or the 8-bit codes (int8 / uint8 e4m3).
  const at::Tensor& data() const { return data_; }
  // float32 [out] (8-bit formats only).
  const at::Tensor& scale() const { return scale_; }

 private:
  LinearWeight(WeightFormat format, at::Tensor codes, at::Tensor scale);

  WeightFormat format_ = WeightFormat::kFp32;
  at::Tensor data_;
  at::Tensor scale_;
};

}  // namespace baton::models
