#pragma once
// Checking a build against golden tensors (`baton verify`): a golden file is
// recognised by its metadata, the matching computation runs, and every output
// is compared with the reference under a stated tolerance.
#include <ATen/ATen.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/weight_format.h"
#include "io/safetensors_file.h"

namespace baton::worker {

struct GoldenCheckOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  // int8 / fp8: the kinds with an 8-bit path (dit, gemma3) store their big
  // matrices so, with looser tolerances; the others check dense weights.
  WeightFormat weights = WeightFormat::kFp32;
};

struct GoldenOutput {
  std::string name;              // the golden tensor compared, e.g. "out.velocity"
  std::string metric;            // "rel_l2" or "max_abs"
  double error = 0;
  double tolerance = 0;
  bool ok() const { return error <= tolerance; }
};

struct GoldenReport {
  std::string file;
  std::string kind;              // "dit", "gemma3", ...
  std::vector<GoldenOutput> outputs;
  std::string note;              // e.g. that 8-bit weights were asked for a kind without them
  bool ok() const;
};

// One kind of golden file: how to recognise it and how to check it.
struct GoldenKind {
  std::string name;
  bool has_8bit_weights = false;  // honours GoldenCheckOptions::weights
  // True when the file's metadata `config` (parsed) belongs to this kind.
  std::function<bool(const nlohmann::json& config, const io::SafetensorsFile& file)> recognises;
  std::function<std::vector<GoldenOutput>(const io::SafetensorsFile& file, const nlohmann::json& config,
                                          const GoldenCheckOptions& options)>
      check;
};

// The kinds this build knows (worker/golden/golden_kinds.cpp).
const std::vector<GoldenKind>& golden_kinds();

// Opens `path`, recognises its kind and runs the check. Throws Error for a
// file that is not a golden file of a known kind.
GoldenReport check_golden_file(const std::string& path, const GoldenCheckOptions& options);

// The tolerance for relative L2 errors in a dtype: 1e-4 in float32, 2e-2 in bf16/fp16.
double default_rel_l2_tolerance(at::ScalarType dtype);
// What 8-bit weights may add to a kind's relative L2 error (docs/quantization.md).
struct QuantizationAllowance {
  double int8 = 0;
  double fp8 = 0;
};
// default_rel_l2_tolerance(dtype), plus the allowance of an 8-bit format.
double rel_l2_tolerance(at::ScalarType dtype, WeightFormat weights, const QuantizationAllowance& allowance);

}  // namespace baton::worker
