#pragma once
// baton's own CUDA kernels, compiled at run time with NVRTC for the GPU at
// hand (NVRTC and the driver API opened with dlopen): no nvcc and no list of
// architectures at build time, and no second CUDA runtime or fat binary in
// the process. Each device loads the module once; launches go on the current
// stream, so CUDA graphs capture them like libtorch's kernels.
#include <ATen/ATen.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace baton {

class RuntimeKernels {
 public:
  // `source` is plain CUDA C++ (no includes) defining the extern "C" kernels
  // named in `kernels`.
  RuntimeKernels(std::string name, std::string source, std::vector<std::string> kernels);
  ~RuntimeKernels();
  RuntimeKernels(const RuntimeKernels&) = delete;
  RuntimeKernels& operator=(const RuntimeKernels&) = delete;

  // Whether this build can compile and launch them at all (CUDA, libtorch 2.x).
  static bool compiled_in();

  // Launches `kernel` on `device`'s current stream; `args` point at the
  // kernel's arguments in order. The first launch on a device compiles and
  // loads the module. Throws Error when compiling, loading or launching fails.
  void launch(const at::Device& device, const std::string& kernel, unsigned grid, unsigned block,
              std::vector<void*> args) const;
  // Successful launches so far, all kernels and devices.
  int64_t launches() const { return launches_.load(); }

 private:
  struct Loaded;
  const Loaded& loaded(const at::Device& device) const;

  std::string name_, source_;
  std::vector<std::string> kernels_;
  struct State;
  std::unique_ptr<State> state_;
  mutable std::atomic<int64_t> launches_{0};
};

}  // namespace baton
