#pragma once
// The devices a plan may use, each with a memory budget: from `--devices`
// ("cuda:0=8GiB,cuda:1,cpu=32GiB" or "auto"), from a device file (JSON, the
// DeviceInventory message of plan.proto), or from what each rank reports under MPI.
#include <cstdint>
#include <string>
#include <vector>

#include "core/device_memory.h"
#include "partition/plan.pb.h"

namespace baton::partition {

enum class DeviceKind { kCpu, kCuda };

struct InventoryDevice {
  std::string name;  // "cuda:0" or "cpu"
  std::string host;  // empty: this host
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;     // N of cuda:N
  int64_t budget = 0;
  std::string budget_source;
  int64_t total = 0;  // capacity when detected
  std::string model;  // e.g. "NVIDIA H100 80GB HBM3"
  int rank = 0;

  // "cuda:0", or "host/cuda:0" on another host: how plans name the device.
  std::string id() const { return host.empty() ? name : host + "/" + name; }
  pb::Device to_proto() const;
};
using DeviceInventory = std::vector<InventoryDevice>;

// What this machine has. Tests substitute their own.
class DeviceProbe {
 public:
  virtual ~DeviceProbe() = default;
  // True when the CUDA devices here can be counted (a CUDA build with a driver).
  virtual bool can_detect_cuda() const = 0;
  virtual int cuda_count() const = 0;
  virtual DeviceMemoryInfo cuda_memory(int index) const = 0;
  virtual std::string cuda_model(int index) const = 0;
  // MemAvailable and MemTotal of /proc/meminfo (0 when unknown).
  virtual int64_t cpu_available() const = 0;
  virtual int64_t cpu_total() const = 0;
};
const DeviceProbe& local_device_probe();
// Sees nothing: for devices whose budgets are already resolved (a saved plan).
const DeviceProbe& no_device_probe();

// Default budgets: what is free now minus a margin.
int64_t default_cuda_budget(const DeviceMemoryInfo& memory);  // free - max(256 MiB, 5% of total)
int64_t default_cpu_budget(int64_t available);                 // MemAvailable - max(1 GiB, 10%)

// `check_present`: refuse local cuda:N the probe does not see (when it can
// count them). Off to plan for another machine (`baton plan --no-detect`).
DeviceInventory parse_device_spec(const std::string& spec, const DeviceProbe& probe, bool check_present = true);
DeviceInventory load_device_file(const std::string& path, const DeviceProbe& probe, bool check_present = true);
DeviceInventory detect_local_devices(const DeviceProbe& probe);
// Device messages from a file or the ranks' reports; `origin` names them in errors.
DeviceInventory inventory_from_proto(const pb::DeviceInventory& message, const DeviceProbe& probe,
                                     bool check_present, const std::string& origin);
pb::DeviceInventory inventory_to_proto(const DeviceInventory& inventory);

// "cuda:0 (8.00 GiB), cpu (32.00 GiB)"
std::string describe_inventory(const DeviceInventory& inventory);

}  // namespace baton::partition
