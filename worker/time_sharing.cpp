#include "worker/time_sharing.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "core/device_memory.h"

namespace baton::worker {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

DeviceTimeSharing::DeviceTimeSharing(at::Device device, PhaseWeights text, PhaseWeights residents)
    : device_(device), text_(std::move(text)), residents_(std::move(residents)) {}

// Each phase's flag is set only once its load succeeded: a failed load (a
// request's error) leaves nothing half-loaded counted, and the next message
// tries again.
void DeviceTimeSharing::enter_text_phase() {
  if (text_loaded_) return;
  const auto start = std::chrono::steady_clock::now();
  if (residents_loaded_) {
    residents_.unload();
    residents_loaded_ = false;
    release_cached_memory(device_);
  }
  text_.load();
  text_loaded_ = true;
  ++text_loads_;
  spdlog::info("{}: text stage loaded for encoding (load {}, {:.2f} s with freeing the DiT/VAE weights)", device_.str(),
               text_loads_, seconds_since(start));
}

void DeviceTimeSharing::enter_resident_phase() {
  if (residents_loaded_) return;
  const auto start = std::chrono::steady_clock::now();
  if (text_loaded_) {
    text_.unload();
    text_loaded_ = false;
    release_cached_memory(device_);
  }
  residents_.load();
  residents_loaded_ = true;
  spdlog::info("{}: text stage freed, DiT/VAE weights loaded again ({:.2f} s)", device_.str(), seconds_since(start));
}

}  // namespace baton::worker
