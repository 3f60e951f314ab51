#include "core/device_memory.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#ifdef BATON_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

#include <mutex>

#include "core/error.h"

namespace baton {

int cuda_device_count() {
  return at::globalContext().hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
}

#ifdef BATON_WITH_CUDA
// Index 0 of the stat arrays is the aggregate over pools (StatType moved
// namespaces between libtorch releases; its value did not).
namespace {
c10::DeviceIndex index_of(const c10::Device& d) {
  const auto index = d.has_index() ? d.index() : c10::cuda::current_device();
  // The caching allocator sets itself up on the first allocation; its stats
  // calls before that fail with "Invalid device argument".
  static std::once_flag once;
  std::call_once(once, [] { at::empty({1}, at::TensorOptions().device(at::kCUDA)); });
  return index;
}
}  // namespace

DeviceMemoryInfo device_memory_info(const c10::Device& device) {
  if (!device.is_cuda()) return {};
  c10::cuda::CUDAGuard guard(index_of(device));
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) throw Error("cudaMemGetInfo failed on " + device.str());
  return {static_cast<int64_t>(total_b), static_cast<int64_t>(free_b)};
}

int64_t peak_allocated_bytes(const c10::Device& device) {
  if (!device.is_cuda()) return 0;
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device));
  return stats.allocated_bytes[0].peak;
}

int64_t peak_reserved_bytes(const c10::Device& device) {
  if (!device.is_cuda()) return 0;
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device));
  return stats.reserved_bytes[0].peak;
}

void reset_peak_memory(const c10::Device& device) {
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(index_of(device));
}

void cap_device_memory(const c10::Device& device, int64_t bytes) {
  if (!device.is_cuda()) return;
  const auto info = device_memory_info(device);
  const double fraction = std::min(1.0, static_cast<double>(bytes) / static_cast<double>(info.total));
  c10::cuda::CUDACachingAllocator::setMemoryFraction(fraction, index_of(device));
}

void release_cached_memory(const c10::Device& device) {
  if (!device.is_cuda()) return;
  c10::cuda::CUDAGuard guard(index_of(device));
  c10::cuda::CUDACachingAllocator::emptyCache();
}

void synchronize_device(const c10::Device& device) {
  if (device.is_cuda()) {
    c10::cuda::CUDAGuard guard(index_of(device));
    c10::cuda::device_synchronize();
  }
}
#else
DeviceMemoryInfo device_memory_info(const c10::Device&) { return {}; }
int64_t peak_allocated_bytes(const c10::Device&) { return 0; }
int64_t peak_reserved_bytes(const c10::Device&) { return 0; }
void reset_peak_memory(const c10::Device&) {}
void release_cached_memory(const c10::Device&) {}
void cap_device_memory(const c10::Device& device, int64_t) {
  if (device.is_cuda()) throw Error("this build has no CUDA support", "build on a CUDA host (docs/building.md)");
}
void synchronize_device(const c10::Device&) {}
#endif

}  // namespace baton
