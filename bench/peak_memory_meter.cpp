#include "bench/peak_memory_meter.h"

#include "core/device_memory.h"
#include "core/error.h"

#ifdef BATON_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace baton::bench {
namespace {

#ifdef BATON_WITH_CUDA
c10::DeviceIndex index_of(const at::Device& d) { return d.has_index() ? d.index() : 0; }
#endif

}  // namespace

PeakMemoryMeter::PeakMemoryMeter(const at::Device& device) : device_(device) {
  require(device.is_cpu() || device.is_cuda(), "memory can be measured on cpu and cuda devices only");
  if (device.is_cpu()) {
    cpu_.emplace();
    cpu_->reset_peak();
  } else {
    reset_peak_memory(device);
  }
}

PeakMemoryMeter::~PeakMemoryMeter() = default;

int64_t PeakMemoryMeter::current() const {
  if (device_.is_cpu()) return cpu_->current();
#ifdef BATON_WITH_CUDA
  return c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device_)).allocated_bytes[0].current;
#else
  return 0;
#endif
}

int64_t PeakMemoryMeter::peak() const {
  if (device_.is_cpu()) return cpu_->peak();
  return peak_allocated_bytes(device_);
}

void PeakMemoryMeter::reset_peak() {
  if (device_.is_cpu()) cpu_->reset_peak();
  else reset_peak_memory(device_);
}

int64_t PeakMemoryMeter::peak_reserved() const {
  if (device_.is_cpu()) return peak();
  return peak_reserved_bytes(device_);
}

int64_t PeakMemoryMeter::reserved() const {
  if (device_.is_cpu()) return current();
#ifdef BATON_WITH_CUDA
  return c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device_)).reserved_bytes[0].current;
#else
  return 0;
#endif
}

void PeakMemoryMeter::release_cache() {
#ifdef BATON_WITH_CUDA
  if (device_.is_cuda()) {
    synchronize_device(device_);
    c10::cuda::CUDACachingAllocator::emptyCache();
  }
#endif
}

}  // namespace baton::bench
