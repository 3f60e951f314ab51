#include "core/weight_format.h"

#include "core/error.h"

namespace baton {

WeightFormat parse_weight_format(const std::string& name) {
  if (name == "fp32" || name == "float32" || name == "f32") return WeightFormat::kFp32;
  if (name == "bf16" || name == "bfloat16") return WeightFormat::kBf16;
  if (name == "fp16" || name == "float16" || name == "f16") return WeightFormat::kFp16;
  if (name == "int8") return WeightFormat::kInt8;
  if (name == "fp8" || name == "float8") return WeightFormat::kFp8;
  throw UsageError("unknown weight format '" + name + "'", "use fp32, bf16, fp16, int8 or fp8");
}

std::string weight_format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::kFp32: return "fp32";
    case WeightFormat::kBf16: return "bf16";
    case WeightFormat::kFp16: return "fp16";
    case WeightFormat::kInt8: return "int8";
    case WeightFormat::kFp8: return "fp8";
  }
  return "?";
}

bool is_8bit(WeightFormat format) { return format == WeightFormat::kInt8 || format == WeightFormat::kFp8; }

}  // namespace baton
