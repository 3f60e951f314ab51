#pragma once
// Which data-plane backends this binary can use on this machine right now.
#include <string>

namespace baton::transport {

// "NCCL 2.27.3", or a reason it is not usable ("not compiled in").
std::string nccl_status(bool* usable = nullptr);
// "Open MPI v4.1.4 ...", or a reason it is not usable.
std::string mpi_status(bool* usable = nullptr);
// ZeroMQ's version; always compiled in.
std::string zmq_status();

}  // namespace baton::transport
