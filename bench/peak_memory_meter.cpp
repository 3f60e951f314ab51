#include "bench/peak_memory_meter.h"

#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "core/device_memory.h"
#include "core/error.h"
#include "core/torch_compat.h"

#ifdef BATON_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace baton::bench {
namespace {

// Counts the bytes of CPU tensors alive. Some ATen code frees through
// raw_deleter, so data and context are the same pointer and the sizes live in
// a map. One instance for the process: tensors it handed out may outlive a meter.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  static CountingCpuAllocator& instance() {
    static CountingCpuAllocator* a = new CountingCpuAllocator();  // never destroyed: its deleter may run at exit
    return *a;
  }
#if BATON_TORCH_AT_LEAST(2, 3)
  c10::DataPtr allocate(size_t n) override { return counted(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#else
  c10::DataPtr allocate(size_t n) const override { return counted(n); }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void install() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (installs_++ == 0) {
      base_ = c10::GetCPUAllocator();
      c10::SetCPUAllocator(this, kPriority);
    }
  }
  void uninstall() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--installs_ == 0) c10::SetCPUAllocator(base_, kPriority);
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = current_;
  }
  int64_t current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
  }
  int64_t peak() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }

 private:
  static constexpr uint8_t kPriority = 200;
  CountingCpuAllocator() : base_(c10::GetDefaultCPUAllocator()) {}
  c10::DataPtr counted(size_t n) const {
    void* p = base_->raw_allocate(n);
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[p] = n;
    current_ += static_cast<int64_t>(n);
    peak_ = std::max(peak_, current_);
    return {p, p, &release, c10::Device(c10::kCPU)};
  }
  static void release(void* p) {
    auto& self = instance();
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto it = self.sizes_.find(p);
      if (it != self.sizes_.end()) {
        self.current_ -= static_cast<int64_t>(it->second);
        self.sizes_.erase(it);
      }
    }
    self.base_->raw_deallocate(p);
  }
  c10::Allocator* base_;
  int installs_ = 0;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, size_t> sizes_;
  mutable int64_t current_ = 0;
  mutable int64_t peak_ = 0;
};

#ifdef BATON_WITH_CUDA
c10::DeviceIndex index_of(const at::Device& d) { return d.has_index() ? d.index() : 0; }
#endif

}  // namespace

PeakMemoryMeter::PeakMemoryMeter(const at::Device& device) : device_(device) {
  require(device.is_cpu() || device.is_cuda(), "memory can be measured on cpu and cuda devices only");
  if (device.is_cpu()) {
    CountingCpuAllocator::instance().install();
    CountingCpuAllocator::instance().reset_peak();
  } else {
    reset_peak_memory(device);
  }
}

PeakMemoryMeter::~PeakMemoryMeter() {
  if (device_.is_cpu()) CountingCpuAllocator::instance().uninstall();
}

int64_t PeakMemoryMeter::current() const {
  if (device_.is_cpu()) return CountingCpuAllocator::instance().current();
#ifdef BATON_WITH_CUDA
  return c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device_)).allocated_bytes[0].current;
#else
  return 0;
#endif
}

int64_t PeakMemoryMeter::peak() const {
  if (device_.is_cpu()) return CountingCpuAllocator::instance().peak();
  return peak_allocated_bytes(device_);
}

void PeakMemoryMeter::reset_peak() {
  if (device_.is_cpu()) CountingCpuAllocator::instance().reset_peak();
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
