#pragma once
// What this binary was built from and with (for `baton --version` and logs).
#include <string>

namespace baton::build_info {

const char* version();      // baton's version, e.g. "0.1.0 (g1a2b3c4)"
bool with_cuda();           // libtorch with CUDA was found at build time
bool with_nccl();           // NCCL transport compiled in
bool with_mpi();            // MPI launch support compiled in

}  // namespace baton::build_info
