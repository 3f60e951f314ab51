#pragma once
// How fast each device is and what a process costs on it: a default table by
// device kind and model, overridden by a calibration file that
// `baton bench --calibrate` writes (the Calibration message of plan.proto, JSON).
#include <cstdint>
#include <optional>
#include <string>

#include "partition/device_inventory.h"
#include "partition/plan.pb.h"
#include "partition/weight_format.h"

namespace baton::partition {

struct DeviceSpeed {
  double tflops = 0;           // effective throughput on the model's matmuls
  int64_t context_bytes = 0;   // per-process overhead (CUDA context / CPU runtime)
  double load_gib_per_s = 0;   // weight loading, for the cost of time-sharing
  std::string source;          // "default table: generic GPU" or "calibration: <match>"
};

// Defaults (docs/planning.md): CUDA context 500 MiB, CPU runtime 256 MiB,
// loading 2 GiB/s; throughput by kind, model and weight format.
constexpr int64_t kDefaultCudaContextBytes = 500LL << 20;
constexpr int64_t kDefaultCpuRuntimeBytes = 256LL << 20;
constexpr double kDefaultLoadGibPerS = 2.0;
DeviceSpeed default_device_speed(DeviceKind kind, const std::string& model, WeightFormat format);

class DeviceSpeeds {
 public:
  DeviceSpeeds() = default;
  explicit DeviceSpeeds(pb::Calibration calibration);
  // `baton plan --cuda-context`: overrides the default and the calibration.
  void override_cuda_context(int64_t bytes) { cuda_context_ = bytes; }
  DeviceSpeed speed(const InventoryDevice& device, WeightFormat format) const;
  const pb::Calibration& calibration() const { return calibration_; }

 private:
  pb::Calibration calibration_;
  std::optional<int64_t> cuda_context_;
};

pb::Calibration load_calibration(const std::string& path);
void save_calibration(const std::string& path, const pb::Calibration& calibration);

}  // namespace baton::partition
