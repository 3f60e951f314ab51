#pragma once
// The memory of one device as the runtime sees it: the caching allocator's
// peak (what a plan is checked against), a cap on it (a rank's budget), and
// what the driver reports free. On the CPU the functions are no-ops/0.
#include <c10/core/Device.h>

#include <cstdint>

namespace baton {

struct DeviceMemoryInfo {
  int64_t total = 0;  // bytes on the device (0 for CPU)
  int64_t free = 0;   // bytes the driver reports free now
};

DeviceMemoryInfo device_memory_info(const c10::Device& device);
// Peak bytes allocated by tensors since the last reset (caching allocator).
int64_t peak_allocated_bytes(const c10::Device& device);
// Peak bytes reserved from the driver (allocated + cached) since the last reset.
int64_t peak_reserved_bytes(const c10::Device& device);
void reset_peak_memory(const c10::Device& device);
// Caps the caching allocator of `device` at `bytes` (an allocation beyond it
// fails with out-of-memory, like a smaller card would).
void cap_device_memory(const c10::Device& device, int64_t bytes);
// Hands the caching allocator's unused blocks on `device` back to the driver
// (after a stage freed its weights). No-op on the CPU.
void release_cached_memory(const c10::Device& device);
// Number of CUDA devices usable now (0 without CUDA).
int cuda_device_count();
// Waits for all work queued on `device` (timing needs it).
void synchronize_device(const c10::Device& device);

}  // namespace baton
