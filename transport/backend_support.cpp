#include "transport/backend_support.h"

#include <zmq.h>

#ifdef BATON_WITH_MPI
#include <mpi.h>
#endif
#ifdef BATON_WITH_NCCL
#include <nccl.h>
#endif

namespace baton::transport {

std::string nccl_status(bool* usable) {
#ifdef BATON_WITH_NCCL
  int v = 0;
  if (ncclGetVersion(&v) == ncclSuccess) {
    if (usable) *usable = true;
    // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
    return "NCCL " + std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." +
           std::to_string(v % 100);
  }
  if (usable) *usable = false;
  return "compiled in, but ncclGetVersion failed";
#else
  if (usable) *usable = false;
  return "not compiled in";
#endif
}

std::string mpi_status(bool* usable) {
#ifdef BATON_WITH_MPI
  char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(buf, &len) == MPI_SUCCESS) {
    if (usable) *usable = true;
    std::string s(buf, len);
    auto nl = s.find_first_of(",\n");
    return nl == std::string::npos ? s : s.substr(0, nl);
  }
  if (usable) *usable = false;
  return "compiled in, but the MPI library did not answer";
#else
  if (usable) *usable = false;
  return "not compiled in";
#endif
}

std::string zmq_status() {
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  return "ZeroMQ " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace baton::transport
