#include "worker/golden/golden_check.h"

#include "core/error.h"
#include "core/torch_compat.h"

namespace baton::worker {

bool GoldenReport::ok() const {
  if (outputs.empty()) return false;
  for (const auto& o : outputs)
    if (!o.ok()) return false;
  return true;
}

double default_rel_l2_tolerance(at::ScalarType dtype) { return dtype == at::kFloat || dtype == at::kDouble ? 1e-4 : 2e-2; }

double rel_l2_tolerance(at::ScalarType dtype, WeightFormat weights, const QuantizationAllowance& allowance) {
  const double dense = default_rel_l2_tolerance(dtype);
  if (weights == WeightFormat::kInt8) return dense + allowance.int8;
  if (weights == WeightFormat::kFp8) return dense + allowance.fp8;
  return dense;
}

GoldenReport check_golden_file(const std::string& path, const GoldenCheckOptions& options) {
  // References are computed in IEEE float32: no TF32 shortcuts when checking fp32.
  compat::set_exact_float32(options.dtype == at::kFloat);
  io::SafetensorsFile file(path);
  const auto metadata = file.metadata();  // a copy: iterators must outlive the call
  auto it = metadata.find("config");
  if (it == metadata.end())
    throw Error(path + ": no 'config' metadata, so it is not a golden file",
                "golden files carry the configuration that produced them under the metadata key 'config'");
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": metadata 'config' is not valid JSON (" + e.what() + ")");
  }
  for (const auto& kind : golden_kinds()) {
    if (!kind.recognises(config, file)) continue;
    GoldenReport report;
    report.file = path;
    report.kind = kind.name;
    auto run = options;
    if (is_8bit(options.weights) && !kind.has_8bit_weights) {
      run.weights = WeightFormat::kFp32;
      report.note = kind.name + " has no " + weight_format_name(options.weights) + " path: checked with dense weights";
    }
    try {
      report.outputs = kind.check(file, config, run);
    } catch (Error& e) {
      throw e.with_context(path + " (" + kind.name + ")");
    }
    return report;
  }
  std::string known;
  for (const auto& kind : golden_kinds()) known += (known.empty() ? "" : ", ") + kind.name;
  throw Error(path + ": not a golden file of a kind this build knows",
              "known kinds: " + (known.empty() ? std::string("none") : known));
}

}  // namespace baton::worker
