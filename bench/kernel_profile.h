#pragma once
// Where a call's device time goes, kernel by kernel: the call runs under
// libtorch's Kineto profiler and the events are summed by name. On CUDA these
// are the GPU kernels (and copies) with their device time; on a CPU, the aten
// operators with their self time (their time minus that of the operators they
// call). `baton bench dit --profile` prints it; it is what showed which parts
// of a block fused kernels could shorten.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace baton::bench {

struct KernelTime {
  std::string name;
  std::string category;  // kernel_category(name)
  int64_t calls = 0;     // over all profiled runs
  double total_ms = 0;   // over all profiled runs
};

struct KernelProfile {
  std::vector<KernelTime> kernels;  // longest total first
  int runs = 0;
  double wall_ms = 0;  // of all runs, synchronised
  std::string trace_error;  // why the trace asked for was not written (libtorch without Kineto)
  double busy_ms() const;  // the kernels' summed time
};

// "matrix product", "attention", "normalization", "copy and cast" or
// "elementwise and other", from a kernel's or operator's name.
std::string kernel_category(const std::string& name);

// Runs `call` `runs` times under the profiler (after the caller's warm-up).
// `trace_path`, when not empty, receives the Chrome trace of the runs (a
// libtorch built without Kineto, like Debian's, profiles operators but cannot
// write one: trace_error says so). Throws Error when the profiler cannot run.
KernelProfile profile_kernels(const at::Device& device, int runs, const std::function<void()>& call,
                              const std::string& trace_path = "");

}  // namespace baton::bench
