#pragma once
// CUDA graphs for a call that repeats with the same shapes (the DiT blocks of
// every denoising step): the first call of a key runs as usual and is then
// captured on a side stream; later calls copy their inputs into the graph's
// own and replay it, one launch instead of a thousand kernel launches.
//
// The graphs of one cache share one memory pool: they replay on the caller's
// stream one at a time, and each keeps its inputs and outputs alive, so only
// intermediates are shared. Outputs are cloned after a replay, so callers may
// keep them. A call whose inputs are not all on one CUDA device, a build
// without CUDA, or a capture that fails (logged once, then every call runs
// eagerly) just runs the call.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace baton {

class CapturedCalls {
 public:
  using Call = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)>;

  // Keeps at most `capacity` graphs (least recently replayed dropped first).
  explicit CapturedCalls(size_t capacity);
  ~CapturedCalls();
  CapturedCalls(const CapturedCalls&) = delete;
  CapturedCalls& operator=(const CapturedCalls&) = delete;

  // call(inputs), replayed from a graph when one was captured for `key`. The key
  // must name whatever besides the inputs' shapes decides the kernels (here it
  // is extended by the inputs' shapes, dtypes and device). `call` must not
  // synchronise with the host nor keep state between calls.
  std::vector<at::Tensor> run(const std::string& key, const std::vector<at::Tensor>& inputs, const Call& call);

  // Whether this build can capture on `device` (CUDA compiled in and a CUDA device).
  static bool supported(const at::Device& device);

  size_t graphs() const;      // held now
  int64_t captures() const;   // since construction
  int64_t replays() const;
  bool disabled() const;      // a capture failed: every call runs eagerly

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace baton
