#pragma once
// How a stage stores its weights: the one name used by the planner (bytes per
// stage, partition/weight_format.h) and by the models (models/quantization).
// The dense formats keep the weights in that floating dtype; the 8-bit formats
// store each big matrix in one byte per element plus one float32 scale per
// output channel (row): int8 = round(w / s) with s = max|row| / 127, fp8 = the
// e4m3 code of w / s with s = max|row| / 448 (docs/quantization.md).
#include <string>

namespace baton {

enum class WeightFormat { kFp32, kBf16, kFp16, kInt8, kFp8 };

// "fp32", "bf16", "fp16", "int8", "fp8" (and the long dtype names); UsageError otherwise.
WeightFormat parse_weight_format(const std::string& name);
std::string weight_format_name(WeightFormat format);
bool is_8bit(WeightFormat format);

}  // namespace baton
