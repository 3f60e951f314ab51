#pragma once
// Compute dtypes as users name them on the command line and in plans.
#include <c10/core/ScalarType.h>

#include <string>

namespace baton {

// "fp32"/"float32", "bf16"/"bfloat16", "fp16"/"float16"; throws UsageError otherwise.
c10::ScalarType parse_dtype(const std::string& name);
// The short name: "fp32", "bf16", "fp16" (others: c10's name).
std::string dtype_name(c10::ScalarType dtype);

}  // namespace baton
