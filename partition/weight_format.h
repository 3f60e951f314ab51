#pragma once
// What weights cost in bytes on a device. 8-bit formats (int8, fp8) are
// per-output-channel scaled: one byte per matrix element plus one float32 scale
// per row; vectors (norms, biases) stay in the compute dtype. The format itself is
// core/weight_format.h (the models use the same enum).
#include <cstdint>
#include <string>

#include "core/weight_format.h"
#include "models/nextdit/nextdit_config.h"  // TensorShapes

namespace baton::partition {

using baton::is_8bit;
using baton::parse_weight_format;
using baton::weight_format_name;
using baton::WeightFormat;
// The dtype a stage computes in (and keeps its dense tensors in): a dense
// format's own; 8-bit formats compute in bf16 on GPUs and in fp32 on CPUs
// (where they are dequantised per call into float32).
WeightFormat compute_format(WeightFormat format, bool cpu = false);
std::string compute_dtype_name(WeightFormat format, bool cpu = false);
int64_t compute_dtype_bytes(WeightFormat format, bool cpu = false);

// Parameters split by how an 8-bit format stores them.
struct ParamCount {
  int64_t matrix = 0;       // elements of tensors with 2+ dimensions (Linear, Embedding, Conv)
  int64_t matrix_rows = 0;  // their output channels: one scale each in 8-bit formats
  int64_t vector = 0;       // elements of 1-D tensors (norm weights, biases)

  int64_t total() const { return matrix + vector; }
  ParamCount& operator+=(const ParamCount& o);
  ParamCount operator*(int64_t n) const;
};
ParamCount operator+(ParamCount a, const ParamCount& b);
ParamCount operator-(ParamCount a, const ParamCount& b);

ParamCount count_params(const models::TensorShapes& shapes);
// Bytes of `params` in `format`: dense formats one element each in that
// dtype; 8-bit formats one byte per matrix element, a float32 scale per
// matrix row and the vectors in the compute dtype (as models::LinearWeight).
int64_t weight_bytes(const ParamCount& params, WeightFormat format, bool cpu = false);

}  // namespace baton::partition
