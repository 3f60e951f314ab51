#include "bench/bench_timer.h"

#include <algorithm>
#include <chrono>

#include "core/device_memory.h"
#include "core/error.h"

#ifdef BATON_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace baton::bench {

double median(std::vector<double> v) {
  require(!v.empty(), "median of no values");
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double Timing::median_ms() const { return median(ms); }
double Timing::min_ms() const { return *std::min_element(ms.begin(), ms.end()); }
double Timing::max_ms() const { return *std::max_element(ms.begin(), ms.end()); }

double time_one_call_ms(const at::Device& device, const std::function<void()>& call) {
  synchronize_device(device);
#ifdef BATON_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDAGuard guard(device.has_index() ? device.index() : 0);
    at::cuda::CUDAEvent start(cudaEventDefault), end(cudaEventDefault);  // timing enabled
    const auto stream = c10::cuda::getCurrentCUDAStream();
    start.record(stream);
    call();
    end.record(stream);
    end.synchronize();
    return static_cast<double>(start.elapsed_time(end));
  }
#endif
  const auto t0 = std::chrono::steady_clock::now();
  call();
  synchronize_device(device);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Timing time_calls(const at::Device& device, int warmup, int iters, const std::function<void()>& call,
                  const std::function<void()>& after_warmup) {
  require(iters >= 1 && warmup >= 0, "a benchmark needs at least one timed call");
  for (int i = 0; i < warmup; ++i) call();
  synchronize_device(device);
  if (after_warmup) after_warmup();
  Timing t;
  for (int i = 0; i < iters; ++i) t.ms.push_back(time_one_call_ms(device, call));
  return t;
}

}  // namespace baton::bench
