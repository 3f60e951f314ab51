#include "core/cpu_allocation_counter.h"

#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "core/torch_compat.h"

namespace baton {
namespace {

// Some ATen code frees through raw_deleter, so data and context are the same
// pointer and the sizes live in a map. One instance for the process: tensors
// it handed out may outlive every counter.
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

}  // namespace

CpuAllocationCounter::CpuAllocationCounter() { CountingCpuAllocator::instance().install(); }
CpuAllocationCounter::~CpuAllocationCounter() { CountingCpuAllocator::instance().uninstall(); }
int64_t CpuAllocationCounter::current() const { return CountingCpuAllocator::instance().current(); }
int64_t CpuAllocationCounter::peak() const { return CountingCpuAllocator::instance().peak(); }
void CpuAllocationCounter::reset_peak() { CountingCpuAllocator::instance().reset_peak(); }

}  // namespace baton
