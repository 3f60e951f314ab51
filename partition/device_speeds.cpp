#include "partition/device_speeds.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace baton::partition {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains(const std::string& text, const std::string& part) {
  return !part.empty() && lower(text).find(lower(part)) != std::string::npos;
}

// Effective TFLOP/s in bf16/fp16, fp32 and weight-only 8-bit (dequantised to bf16).
struct Row {
  const char* name;
  std::vector<const char*> models;  // substrings of the CUDA device name
  double half, single, eight_bit;
};

// H100/H200: baselines.md measured 320 TFLOP/s for eager PyTorch on a 1024^2
// CFG call (456 with torch.compile; 790 for a bare matmul): baton runs eager.
const std::vector<Row>& gpu_rows() {
  static const std::vector<Row> rows = {
      {"Hopper (H100/H200)", {"H100", "H200", "H800", "GH200"}, 350, 50, 315},
      {"Ampere datacenter (A100/A800)", {"A100", "A800"}, 200, 15, 180},
  };
  return rows;
}
const Row kGenericGpu{"generic GPU", {}, 100, 20, 90};
const Row kCpu{"CPU", {}, 0.25, 0.5, 0.4};

double pick(const Row& r, WeightFormat f) {
  if (f == WeightFormat::kFp32) return r.single;
  if (is_8bit(f)) return r.eight_bit;
  return r.half;
}

}  // namespace

DeviceSpeed default_device_speed(DeviceKind kind, const std::string& model, WeightFormat format) {
  DeviceSpeed s;
  s.load_gib_per_s = kDefaultLoadGibPerS;
  if (kind == DeviceKind::kCpu) {
    s.tflops = pick(kCpu, format);
    s.context_bytes = kDefaultCpuRuntimeBytes;
    s.source = "default table: CPU";
    return s;
  }
  s.context_bytes = kDefaultCudaContextBytes;
  const Row* row = &kGenericGpu;
  for (const auto& r : gpu_rows())
    for (const auto* m : r.models)
      if (contains(model, m)) row = &r;
  s.tflops = pick(*row, format);
  s.source = std::string("default table: ") + row->name;
  return s;
}

DeviceSpeeds::DeviceSpeeds(pb::Calibration calibration) : calibration_(std::move(calibration)) {}

DeviceSpeed DeviceSpeeds::speed(const InventoryDevice& d, WeightFormat format) const {
  auto s = default_device_speed(d.kind, d.model, format);
  // The most specific entry wins: device id, then model substring, then kind.
  int best = 0;
  const pb::DeviceCalibration* chosen = nullptr;
  const std::string kind = d.kind == DeviceKind::kCuda ? "cuda" : "cpu";
  for (const auto& e : calibration_.entries()) {
    if (!e.dtype().empty() && e.dtype() != weight_format_name(format)) continue;
    int score = 0;
    if (e.match() == d.id() || e.match() == d.name) score = 3;
    else if (e.match() != kind && contains(d.model, e.match())) score = 2;
    else if (e.match() == kind) score = 1;
    if (score > best) {
      best = score;
      chosen = &e;
    }
  }
  if (chosen) {
    if (chosen->tflops() > 0) s.tflops = chosen->tflops();
    if (chosen->context_bytes() > 0) s.context_bytes = chosen->context_bytes();
    if (chosen->load_gib_per_s() > 0) s.load_gib_per_s = chosen->load_gib_per_s();
    s.source = "calibration: " + chosen->match();
  }
  if (cuda_context_ && d.kind == DeviceKind::kCuda) s.context_bytes = *cuda_context_;
  return s;
}

pb::Calibration load_calibration(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot open calibration file " + path);
  std::stringstream text;
  text << in.rdbuf();
  pb::Calibration c;
  const auto status = google::protobuf::util::JsonStringToMessage(text.str(), &c);
  if (!status.ok())
    throw UsageError("calibration file " + path + " is not a calibration: " + status.ToString(),
                     "see configs/calibration.example.json");
  if (c.format_version() != 1)
    throw UsageError("calibration file " + path + " has format_version " + std::to_string(c.format_version()),
                     "this baton reads format_version 1");
  for (const auto& e : c.entries()) {
    if (e.match().empty()) throw UsageError("calibration file " + path + ": an entry has no 'match'");
    if (!e.dtype().empty()) parse_weight_format(e.dtype());
    if (e.tflops() < 0 || e.context_bytes() < 0 || e.load_gib_per_s() < 0)
      throw UsageError("calibration file " + path + ": entry '" + e.match() + "' has a negative value");
  }
  return c;
}

void save_calibration(const std::string& path, const pb::Calibration& c) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  const auto status = google::protobuf::util::MessageToJsonString(c, &json, options);
  if (!status.ok()) throw Error("cannot write calibration: " + status.ToString());
  std::ofstream out(path);
  out << json;
  if (!out) throw Error("cannot write calibration file " + path);
}

}  // namespace baton::partition
