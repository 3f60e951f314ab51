#pragma once
// A device that time-shares its text stage with its other stages: the plan's
// last resort when the text encoders and the DiT do not fit on it together
// (docs/planning.md, Time-sharing). The device is in one of two phases: the
// text phase holds the text encoders only, the resident phase its DiT and VAE
// stages only. A message for the text stage enters the text phase, any other
// message the resident phase; each change frees the other phase's weights
// (and, on CUDA, the allocator's cached blocks) before loading its own.
//
// The worker handles its inbox in order, so prompts queued back to back are
// encoded in one text phase; in a steady stream that is about one swap (a
// text-stage load and a reload of the DiT and VAE weights) per image.
#include <ATen/Device.h>

#include <cstdint>
#include <functional>

namespace baton::worker {

// How to load and free one phase's weights.
struct PhaseWeights {
  std::function<void()> load;
  std::function<void()> unload;
};

class DeviceTimeSharing {
 public:
  // Starts in the resident phase: the resident stages are loaded, the text
  // stage is not.
  DeviceTimeSharing(at::Device device, PhaseWeights text, PhaseWeights residents);

  // Before a message for the text stage (no-op when in the text phase).
  void enter_text_phase();
  // Before a message for any other stage (no-op when in the resident phase).
  void enter_resident_phase();

  bool text_loaded() const { return text_loaded_; }
  bool residents_loaded() const { return residents_loaded_; }
  // Text phases entered so far (each one a text-stage load).
  int64_t text_loads() const { return text_loads_; }

 private:
  at::Device device_;
  PhaseWeights text_, residents_;
  bool text_loaded_ = false;
  bool residents_loaded_ = true;
  int64_t text_loads_ = 0;
};

}  // namespace baton::worker
