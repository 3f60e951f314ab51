#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <iostream>

#include "cli/command.h"
#include "core/build_info.h"
#include "core/torch_compat.h"
#include "transport/backend_support.h"

namespace baton::cli {

void print_version() {
  std::cout << "baton " << build_info::version() << "\n";
  std::cout << "libtorch " << compat::torch_version() << "\n";
  if (!build_info::with_cuda()) {
    std::cout << "CUDA: not compiled in\n";
  } else {
    const int gpus = at::globalContext().hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
    std::cout << "CUDA: compiled in, " << (gpus > 0 ? "usable: " + std::to_string(gpus) + " device(s)"
                                                    : std::string("no usable device"))
              << "\n";
  }
  bool usable = false;
  auto nccl = transport::nccl_status(&usable);
  std::cout << "NCCL: " << nccl << (usable ? " (usable)" : "") << "\n";
  auto mpi = transport::mpi_status(&usable);
  std::cout << "MPI: " << mpi << (usable ? " (usable)" : "") << "\n";
  std::cout << "ZeroMQ: " << transport::zmq_status() << "\n";
}

}  // namespace baton::cli
