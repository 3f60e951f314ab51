#include "core/runtime_kernels.h"

#include <map>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/torch_compat.h"

#if defined(BATON_WITH_CUDA) && BATON_TORCH_AT_LEAST(2, 0)
#define BATON_HAS_RUNTIME_KERNELS 1
#include <ATen/Context.h>
#include <ATen/cuda/nvrtc_stub/ATenNVRTC.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace baton {

#ifdef BATON_HAS_RUNTIME_KERNELS
namespace {

const at::cuda::NVRTC& nvrtc() { return at::globalContext().getNVRTC(); }

void check_driver(CUresult result, const std::string& what) {
  if (result == CUDA_SUCCESS) return;
  const char* text = nullptr;
  nvrtc().cuGetErrorString(result, &text);
  throw Error(what + " failed: " + (text ? text : "CUDA driver error " + std::to_string(static_cast<int>(result))));
}

void check_nvrtc(nvrtcResult result, const std::string& what) {
  if (result != NVRTC_SUCCESS) throw Error(what + " failed: " + nvrtc().nvrtcGetErrorString(result));
}

// CUBIN for compute capability major.minor, or Error with NVRTC's log.
std::string compile(const std::string& name, const std::string& source, int major, int minor) {
  const auto& api = nvrtc();
  nvrtcProgram program;
  check_nvrtc(api.nvrtcCreateProgram(&program, source.c_str(), (name + ".cu").c_str(), 0, nullptr, nullptr),
              "creating the NVRTC program " + name);
  const std::string arch = "--gpu-architecture=sm_" + std::to_string(major) + std::to_string(minor);
  const char* options[] = {arch.c_str(), "--std=c++17"};
  const auto compiled = api.nvrtcCompileProgram(program, 2, options);
  std::string out;
  if (compiled != NVRTC_SUCCESS) {
    size_t size = 0;
    api.nvrtcGetProgramLogSize(program, &size);
    std::string log(size, '\0');
    if (size) api.nvrtcGetProgramLog(program, log.data());
    api.nvrtcDestroyProgram(&program);
    throw Error("compiling the CUDA kernels " + name + " for sm_" + std::to_string(major) + std::to_string(minor) +
                " failed: " + log);
  }
  size_t size = 0;
  check_nvrtc(api.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize");
  out.resize(size);
  check_nvrtc(api.nvrtcGetCUBIN(program, out.data()), "nvrtcGetCUBIN");
  api.nvrtcDestroyProgram(&program);
  return out;
}

}  // namespace

struct RuntimeKernels::Loaded {
  CUmodule module = nullptr;
  std::map<std::string, CUfunction> functions;
};

struct RuntimeKernels::State {
  std::mutex mutex;
  std::map<int, std::unique_ptr<Loaded>> devices;  // by device index; modules stay loaded for the process
};

bool RuntimeKernels::compiled_in() { return true; }

const RuntimeKernels::Loaded& RuntimeKernels::loaded(const at::Device& device) const {
  const int index = device.has_index() ? device.index() : static_cast<int>(c10::cuda::current_device());
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto& slot = state_->devices[index];
  if (slot) return *slot;
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(index));
  CUcontext context = nullptr;
  check_driver(nvrtc().cuCtxGetCurrent(&context), "cuCtxGetCurrent");
  if (!context) cudaFree(nullptr);  // makes the runtime's primary context current on this thread
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, index);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, index);
  const auto cubin = compile(name_, source_, major, minor);
  auto loaded = std::make_unique<Loaded>();
  check_driver(nvrtc().cuModuleLoadData(&loaded->module, cubin.data()), "loading the CUDA kernels " + name_);
  for (const auto& kernel : kernels_) {
    CUfunction function = nullptr;
    check_driver(nvrtc().cuModuleGetFunction(&function, loaded->module, kernel.c_str()), "finding kernel " + kernel);
    loaded->functions[kernel] = function;
  }
  slot = std::move(loaded);
  return *slot;
}

void RuntimeKernels::launch(const at::Device& device, const std::string& kernel, unsigned grid, unsigned block,
                            std::vector<void*> args) const {
  require(device.is_cuda(), "runtime kernels run on CUDA devices, not " + device.str());
  const auto& module = loaded(device);
  const auto it = module.functions.find(kernel);
  require(it != module.functions.end(), "no kernel " + kernel + " in " + name_);
  const auto stream = c10::cuda::getCurrentCUDAStream(device.has_index() ? device.index() : -1).stream();
  check_driver(nvrtc().cuLaunchKernel(it->second, grid, 1, 1, block, 1, 1, 0, stream, args.data(), nullptr),
               "launching " + kernel);
  launches_.fetch_add(1, std::memory_order_relaxed);
}

#else

struct RuntimeKernels::Loaded {};
struct RuntimeKernels::State {};

bool RuntimeKernels::compiled_in() { return false; }

const RuntimeKernels::Loaded& RuntimeKernels::loaded(const at::Device& device) const {
  throw Error("this build of baton has no CUDA: it cannot run kernels on " + device.str());
}

void RuntimeKernels::launch(const at::Device& device, const std::string&, unsigned, unsigned,
                            std::vector<void*>) const {
  loaded(device);
}

#endif

RuntimeKernels::RuntimeKernels(std::string name, std::string source, std::vector<std::string> kernels)
    : name_(std::move(name)), source_(std::move(source)), kernels_(std::move(kernels)), state_(std::make_unique<State>()) {}

RuntimeKernels::~RuntimeKernels() = default;

}  // namespace baton
