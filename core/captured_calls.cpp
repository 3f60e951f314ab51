#include "core/captured_calls.h"

#include <spdlog/spdlog.h>

#include <list>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "core/error.h"

#ifdef BATON_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace baton {
namespace {

// The caller's key plus what the inputs decide: a graph replays fixed shapes.
std::string full_key(const std::string& key, const std::vector<at::Tensor>& inputs) {
  std::ostringstream out;
  out << key;
  for (const auto& t : inputs) {
    out << '|' << c10::toString(t.scalar_type()) << '@' << t.device().str() << '[';
    for (auto s : t.sizes()) out << s << ',';
    out << ']';
  }
  return out.str();
}

// All inputs defined and on one CUDA device: the only calls a graph can take.
std::optional<at::Device> cuda_device_of(const std::vector<at::Tensor>& inputs) {
  std::optional<at::Device> device;
  for (const auto& t : inputs) {
    if (!t.defined() || !t.is_cuda()) return std::nullopt;
    if (device && *device != t.device()) return std::nullopt;
    device = t.device();
  }
  return device;
}

}  // namespace

#ifdef BATON_WITH_CUDA
struct CapturedGraph {
  at::cuda::CUDAGraph graph;
  std::vector<at::Tensor> inputs;   // the graph reads these
  std::vector<at::Tensor> outputs;  // and writes these
};
#else
struct CapturedGraph {};
#endif

struct CapturedCalls::State {
  size_t capacity = 0;
  mutable std::mutex mutex;
  std::list<std::pair<std::string, std::unique_ptr<CapturedGraph>>> graphs;  // most recent first
  int64_t captures = 0;
  int64_t replays = 0;
  bool disabled = false;
#ifdef BATON_WITH_CUDA
  std::optional<c10::cuda::CUDAStream> capture_stream;
  std::optional<decltype(at::cuda::graph_pool_handle())> pool;
#endif
};

CapturedCalls::CapturedCalls(size_t capacity) : state_(std::make_unique<State>()) {
  require(capacity >= 1, "a CUDA graph cache needs room for at least one graph");
  state_->capacity = capacity;
}

CapturedCalls::~CapturedCalls() = default;

bool CapturedCalls::supported(const at::Device& device) {
#ifdef BATON_WITH_CUDA
  return device.is_cuda();
#else
  (void)device;
  return false;
#endif
}

size_t CapturedCalls::graphs() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->graphs.size();
}
int64_t CapturedCalls::captures() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->captures;
}
int64_t CapturedCalls::replays() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->replays;
}
bool CapturedCalls::disabled() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->disabled;
}

std::vector<at::Tensor> CapturedCalls::run(const std::string& key, const std::vector<at::Tensor>& inputs,
                                           const Call& call) {
  const auto device = cuda_device_of(inputs);
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (!device || state_->disabled || !supported(*device)) return call(inputs);
#ifdef BATON_WITH_CUDA
  auto& s = *state_;
  const auto name = full_key(key, inputs);
  c10::cuda::CUDAGuard device_guard(*device);
  auto current = c10::cuda::getCurrentCUDAStream(device->index());
  for (auto it = s.graphs.begin(); it != s.graphs.end(); ++it) {
    if (it->first != name) continue;
    s.graphs.splice(s.graphs.begin(), s.graphs, it);
    auto& g = *s.graphs.front().second;
    for (size_t i = 0; i < inputs.size(); ++i) g.inputs[i].copy_(inputs[i]);
    g.graph.replay();
    ++s.replays;
    std::vector<at::Tensor> out;
    for (const auto& t : g.outputs) out.push_back(t.clone());
    return out;
  }

  // A new key: this call's answer comes from running it as usual (which also
  // builds whatever the call caches, e.g. RoPE tables), then it is captured.
  auto result = call(inputs);
  auto g = std::make_unique<CapturedGraph>();
  for (const auto& t : inputs) g->inputs.push_back(t.clone());
  // Captures need a stream other than the default one; one stream for all of
  // them, so its cuBLAS workspace is made once.
  if (!s.capture_stream) s.capture_stream = c10::cuda::getStreamFromPool(false, device->index());
  if (!s.pool) s.pool = at::cuda::graph_pool_handle();
  at::cuda::CUDAEvent inputs_ready;
  inputs_ready.record(current);
  inputs_ready.block(*s.capture_stream);
  try {
    c10::cuda::CUDAStreamGuard stream_guard(*s.capture_stream);
    // Thread-local: other threads (other devices' workers, NCCL) may go on calling CUDA.
    g->graph.capture_begin(*s.pool, cudaStreamCaptureModeThreadLocal);
    try {
      g->outputs = call(g->inputs);
    } catch (...) {
      try {
        g->graph.capture_end();
      } catch (...) {
      }
      throw;
    }
    g->graph.capture_end();
  } catch (const std::exception& e) {
    s.disabled = true;
    spdlog::warn("CUDA graphs are off on {}: capturing a call failed ({}); every call runs without them", device->str(),
                 e.what());
    return result;
  }
  at::cuda::CUDAEvent captured;
  captured.record(*s.capture_stream);
  captured.block(current);
  ++s.captures;
  s.graphs.emplace_front(name, std::move(g));
  while (s.graphs.size() > s.capacity) s.graphs.pop_back();
  return result;
#else
  (void)key;
  return call(inputs);
#endif
}

}  // namespace baton
