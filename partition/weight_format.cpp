#include "partition/weight_format.h"

#include "core/error.h"

namespace baton::partition {

WeightFormat compute_format(WeightFormat format, bool cpu) {
  if (!is_8bit(format)) return format;
  return cpu ? WeightFormat::kFp32 : WeightFormat::kBf16;
}

std::string compute_dtype_name(WeightFormat format, bool cpu) { return weight_format_name(compute_format(format, cpu)); }

int64_t compute_dtype_bytes(WeightFormat format, bool cpu) {
  return compute_format(format, cpu) == WeightFormat::kFp32 ? 4 : 2;
}

ParamCount& ParamCount::operator+=(const ParamCount& o) {
  matrix += o.matrix;
  matrix_rows += o.matrix_rows;
  vector += o.vector;
  return *this;
}

ParamCount ParamCount::operator*(int64_t n) const { return {matrix * n, matrix_rows * n, vector * n}; }

ParamCount operator+(ParamCount a, const ParamCount& b) { return a += b; }

ParamCount operator-(ParamCount a, const ParamCount& b) {
  return {a.matrix - b.matrix, a.matrix_rows - b.matrix_rows, a.vector - b.vector};
}

ParamCount count_params(const models::TensorShapes& shapes) {
  ParamCount p;
  for (const auto& kv : shapes) {
    int64_t n = 1;
    for (auto d : kv.second) n *= d;
    if (kv.second.size() >= 2) {
      p.matrix += n;
      p.matrix_rows += kv.second[0];
    } else {
      p.vector += n;
    }
  }
  return p;
}

int64_t weight_bytes(const ParamCount& p, WeightFormat format, bool cpu) {
  switch (format) {
    case WeightFormat::kFp32: return 4 * p.total();
    case WeightFormat::kBf16:
    case WeightFormat::kFp16: return 2 * p.total();
    case WeightFormat::kInt8:
    case WeightFormat::kFp8: return p.matrix + 4 * p.matrix_rows + compute_dtype_bytes(format, cpu) * p.vector;
  }
  return 0;
}

}  // namespace baton::partition
