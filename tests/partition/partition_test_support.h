#pragma once
// A DeviceProbe with made-up devices, for inventory and planner tests.
#include <string>
#include <vector>

#include "partition/device_inventory.h"

namespace baton::test {

struct FakeProbe : partition::DeviceProbe {
  bool detect = true;
  std::vector<DeviceMemoryInfo> gpus;
  std::vector<std::string> names;
  int64_t available = 0, total = 0;

  bool can_detect_cuda() const override { return detect; }
  int cuda_count() const override { return static_cast<int>(gpus.size()); }
  DeviceMemoryInfo cuda_memory(int i) const override { return gpus.at(static_cast<size_t>(i)); }
  std::string cuda_model(int i) const override { return i < static_cast<int>(names.size()) ? names[static_cast<size_t>(i)] : ""; }
  int64_t cpu_available() const override { return available; }
  int64_t cpu_total() const override { return total; }

  // Sees nothing and cannot detect CUDA.
  static const FakeProbe& none() {
    static const FakeProbe p = [] {
      FakeProbe f;
      f.detect = false;
      return f;
    }();
    return p;
  }
};

}  // namespace baton::test
