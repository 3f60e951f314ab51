#include "core/runtime_kernels.h"

#include <map>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/torch_compat.h"

#if defined(BATON_WITH_CUDA) && BATON_TORCH_AT_LEAST(2, 0)
#define BATON_HAS_RUNTIME_KERNELS 1
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nvrtc.h>
#endif

namespace baton {
namespace {

void require_cuda_device(const at::Device& device) {
  require(device.is_cuda(), "runtime kernels run on CUDA devices, not " + device.str());
}

}  // namespace

#ifdef BATON_HAS_RUNTIME_KERNELS
namespace {

// NVRTC and the driver API, opened at run time: libtorch's wheels ship no
// header for their NVRTC stub, and baton links neither library (a CUDA build
// then still starts where they are missing: the fused path just turns off).
struct CudaApi {
  decltype(&::nvrtcCreateProgram) nvrtcCreateProgram = nullptr;
  decltype(&::nvrtcCompileProgram) nvrtcCompileProgram = nullptr;
  decltype(&::nvrtcGetProgramLogSize) nvrtcGetProgramLogSize = nullptr;
  decltype(&::nvrtcGetProgramLog) nvrtcGetProgramLog = nullptr;
  decltype(&::nvrtcGetCUBINSize) nvrtcGetCUBINSize = nullptr;
  decltype(&::nvrtcGetCUBIN) nvrtcGetCUBIN = nullptr;
  decltype(&::nvrtcDestroyProgram) nvrtcDestroyProgram = nullptr;
  decltype(&::nvrtcGetErrorString) nvrtcGetErrorString = nullptr;
  decltype(&::cuGetErrorString) cuGetErrorString = nullptr;
  decltype(&::cuCtxGetCurrent) cuCtxGetCurrent = nullptr;
  decltype(&::cuModuleLoadData) cuModuleLoadData = nullptr;
  decltype(&::cuModuleGetFunction) cuModuleGetFunction = nullptr;
  decltype(&::cuLaunchKernel) cuLaunchKernel = nullptr;
};

void* open_first(const std::vector<std::string>& names) {
  std::string why;
  for (const auto& name : names) {
    if (void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL)) return handle;
    if (const char* e = dlerror()) why = e;
  }
  throw Error("cannot open " + names.front() + " for baton's CUDA kernels: " + why,
              "add the CUDA (or PyTorch wheel's nvidia/cu*/lib) library folder to LD_LIBRARY_PATH");
}

template <typename F>
void bind(void* library, F& function, const char* name) {
  function = reinterpret_cast<F>(dlsym(library, name));
  if (!function) throw Error(std::string("the CUDA library has no ") + name);
}

const CudaApi& cuda_api() {
  static const CudaApi api = [] {
    const std::string major = std::to_string(CUDA_VERSION / 1000);
    void* rtc = open_first({"libnvrtc.so." + major, "libnvrtc.so"});
    void* driver = open_first({"libcuda.so.1", "libcuda.so"});
    CudaApi a;
#define BATON_BIND(library, name) bind(library, a.name, #name)
    BATON_BIND(rtc, nvrtcCreateProgram);
    BATON_BIND(rtc, nvrtcCompileProgram);
    BATON_BIND(rtc, nvrtcGetProgramLogSize);
    BATON_BIND(rtc, nvrtcGetProgramLog);
    BATON_BIND(rtc, nvrtcGetCUBINSize);
    BATON_BIND(rtc, nvrtcGetCUBIN);
    BATON_BIND(rtc, nvrtcDestroyProgram);
    BATON_BIND(rtc, nvrtcGetErrorString);
    BATON_BIND(driver, cuGetErrorString);
    BATON_BIND(driver, cuCtxGetCurrent);
    BATON_BIND(driver, cuModuleLoadData);
    BATON_BIND(driver, cuModuleGetFunction);
    BATON_BIND(driver, cuLaunchKernel);
#undef BATON_BIND
    return a;
  }();
  return api;
}

void check_driver(CUresult result, const std::string& what) {
  if (result == CUDA_SUCCESS) return;
  const char* text = nullptr;
  cuda_api().cuGetErrorString(result, &text);
  throw Error(what + " failed: " + (text ? text : "CUDA driver error " + std::to_string(static_cast<int>(result))));
}

void check_nvrtc(nvrtcResult result, const std::string& what) {
  if (result != NVRTC_SUCCESS) throw Error(what + " failed: " + cuda_api().nvrtcGetErrorString(result));
}

// CUBIN for compute capability major.minor, or Error with NVRTC's log.
std::string compile(const std::string& name, const std::string& source, int major, int minor) {
  const auto& api = cuda_api();
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
  check_driver(cuda_api().cuCtxGetCurrent(&context), "cuCtxGetCurrent");
  if (!context) cudaFree(nullptr);  // makes the runtime's primary context current on this thread
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, index);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, index);
  const auto cubin = compile(name_, source_, major, minor);
  auto loaded = std::make_unique<Loaded>();
  check_driver(cuda_api().cuModuleLoadData(&loaded->module, cubin.data()), "loading the CUDA kernels " + name_);
  for (const auto& kernel : kernels_) {
    CUfunction function = nullptr;
    check_driver(cuda_api().cuModuleGetFunction(&function, loaded->module, kernel.c_str()), "finding kernel " + kernel);
    loaded->functions[kernel] = function;
  }
  slot = std::move(loaded);
  return *slot;
}

void RuntimeKernels::launch(const at::Device& device, const std::string& kernel, unsigned grid, unsigned block,
                            std::vector<void*> args) const {
  require_cuda_device(device);
  const auto& module = loaded(device);
  const auto it = module.functions.find(kernel);
  require(it != module.functions.end(), "no kernel " + kernel + " in " + name_);
  // The driver launches in the thread's current context: make it the device's
  // (a thread may have worked on another GPU last).
  const c10::cuda::CUDAGuard guard(device.has_index() ? device.index() : c10::cuda::current_device());
  const auto stream = c10::cuda::getCurrentCUDAStream(device.has_index() ? device.index() : -1).stream();
  check_driver(cuda_api().cuLaunchKernel(it->second, grid, 1, 1, block, 1, 1, 0, stream, args.data(), nullptr),
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
  require_cuda_device(device);
  loaded(device);
}

#endif

RuntimeKernels::RuntimeKernels(std::string name, std::string source, std::vector<std::string> kernels)
    : name_(std::move(name)), source_(std::move(source)), kernels_(std::move(kernels)), state_(std::make_unique<State>()) {}

RuntimeKernels::~RuntimeKernels() = default;

}  // namespace baton
