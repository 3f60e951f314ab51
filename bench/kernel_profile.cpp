#include "bench/kernel_profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "core/device_memory.h"
#include "core/error.h"

namespace baton::bench {
namespace {

namespace prof = torch::autograd::profiler;
namespace impl = torch::profiler::impl;

bool contains(const std::string& s, std::initializer_list<const char*> parts) {
  return std::any_of(parts.begin(), parts.end(), [&](const char* p) { return s.find(p) != std::string::npos; });
}

// Event times in nanoseconds: libtorch 2.x has startNs/durationNs, 1.13 only
// whole microseconds (the overload taking int wins where both exist).
template <typename E>
auto start_ns(const E& e, int) -> decltype(e.startNs()) { return e.startNs(); }
template <typename E>
uint64_t start_ns(const E& e, long) { return e.startUs() * 1000; }
template <typename E>
auto duration_ns(const E& e, int) -> decltype(e.durationNs()) { return e.durationNs(); }
template <typename E>
uint64_t duration_ns(const E& e, long) { return e.durationUs() * 1000; }
uint64_t start_of(const prof::KinetoEvent& e) { return start_ns(e, 0); }
uint64_t duration_of(const prof::KinetoEvent& e) { return duration_ns(e, 0); }

// Self time (ns) of CPU operators: each event's duration less its direct children's
// (events of one thread nest; they are ordered by start, longest first on ties).
std::vector<double> cpu_self_ns(const std::vector<const prof::KinetoEvent*>& events) {
  std::vector<size_t> order(events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto* x = events[a];
    const auto* y = events[b];
    if (x->startThreadId() != y->startThreadId()) return x->startThreadId() < y->startThreadId();
    if (start_of(*x) != start_of(*y)) return start_of(*x) < start_of(*y);
    return duration_of(*x) > duration_of(*y);
  });
  std::vector<double> self(events.size());
  std::vector<size_t> open;  // enclosing events of the current one
  uint64_t thread = 0;
  for (const size_t i : order) {
    const auto* e = events[i];
    if (open.empty() || e->startThreadId() != thread) open.clear(), thread = e->startThreadId();
    while (!open.empty() && start_of(*events[open.back()]) + duration_of(*events[open.back()]) <= start_of(*e))
      open.pop_back();
    self[i] = static_cast<double>(duration_of(*e));
    if (!open.empty()) self[open.back()] -= static_cast<double>(duration_of(*e));
    open.push_back(i);
  }
  for (auto& s : self) s = std::max(0.0, s);
  return self;
}

}  // namespace

double KernelProfile::busy_ms() const {
  double sum = 0;
  for (const auto& k : kernels) sum += k.total_ms;
  return sum;
}

std::string kernel_category(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (contains(n, {"flash", "fmha", "attention", "sdpa", "softmax"})) return "attention";
  if (contains(n, {"gemm", "nvjet", "cutlass", "xmma", "cublas", "aten::mm", "aten::addmm", "aten::bmm",
                   "aten::_scaled_mm"}))
    return "matrix product";
  if (contains(n, {"norm"})) return "normalization";
  if (contains(n, {"copy", "memcpy", "memset", "catarray", "aten::cat", "fill", "aten::to"})) return "copy and cast";
  return "elementwise and other";
}

KernelProfile profile_kernels(const at::Device& device, int runs, const std::function<void()>& call,
                              const std::string& trace_path) {
  require(runs >= 1, "the profile needs at least one run");
  const bool cuda = device.is_cuda();
  std::set<impl::ActivityType> activities{impl::ActivityType::CPU};
  if (cuda) activities.insert(impl::ActivityType::CUDA);
  const impl::ProfilerConfig config(impl::ProfilerState::KINETO);
  std::unique_ptr<prof::ProfilerResult> result;
  KernelProfile profile;
  profile.runs = runs;
  try {
    prof::prepareProfiler(config, activities);
    synchronize_device(device);
    prof::enableProfiler(config, activities);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) call();
    synchronize_device(device);
    profile.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    result = prof::disableProfiler();
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error("the Kineto profiler of this libtorch does not run: " + what.substr(0, what.find('\n')));
  }
  require(result != nullptr, "the Kineto profiler returned no result");
  if (!trace_path.empty()) {
    try {
      result->save(trace_path);
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      profile.trace_error = what.substr(0, what.find('\n'));
    }
  }

  std::vector<const prof::KinetoEvent*> picked;
  for (const auto& e : result->events())
    if ((e.deviceType() == c10::DeviceType::CUDA) == cuda) picked.push_back(&e);
  const auto self = cuda ? std::vector<double>() : cpu_self_ns(picked);
  std::map<std::string, KernelTime> by_name;
  for (size_t i = 0; i < picked.size(); ++i) {
    auto& k = by_name[picked[i]->name()];
    k.calls += 1;
    k.total_ms += (cuda ? static_cast<double>(duration_of(*picked[i])) : self[i]) / 1e6;
  }
  for (auto& [name, k] : by_name) {
    k.name = name;
    k.category = kernel_category(name);
    profile.kernels.push_back(k);
  }
  std::sort(profile.kernels.begin(), profile.kernels.end(),
            [](const KernelTime& a, const KernelTime& b) { return a.total_ms > b.total_ms; });
  return profile;
}

}  // namespace baton::bench
