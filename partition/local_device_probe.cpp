// The real DeviceProbe: CUDA through core/device_memory.h (and the runtime API
// for the card's name), the CPU through /proc/meminfo.
#include <fstream>
#include <sstream>

#include "partition/device_inventory.h"

#ifdef BATON_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace baton::partition {
namespace {

// A /proc/meminfo field in bytes, 0 when absent.
int64_t meminfo_field(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::stringstream fields(line.substr(key.size() + 1));
    int64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return 0;
}

class LocalDeviceProbe : public DeviceProbe {
 public:
  bool can_detect_cuda() const override { return cuda_count() > 0; }
  int cuda_count() const override { return cuda_device_count(); }
  DeviceMemoryInfo cuda_memory(int index) const override {
    return device_memory_info(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index)));
  }
  std::string cuda_model(int index) const override {
#ifdef BATON_WITH_CUDA
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, index) == cudaSuccess) return prop.name;
#endif
    (void)index;
    return {};
  }
  int64_t cpu_available() const override { return meminfo_field("MemAvailable"); }
  int64_t cpu_total() const override { return meminfo_field("MemTotal"); }
};

}  // namespace

const DeviceProbe& local_device_probe() {
  static const LocalDeviceProbe probe;
  return probe;
}

}  // namespace baton::partition
