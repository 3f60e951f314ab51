// The NCCL transport in a build without NCCL: it says so.
#include "core/error.h"
#include "transport/nccl_channel.h"

namespace baton::transport {

bool nccl_transport_compiled() { return false; }

std::shared_ptr<Channel> make_nccl_channel(std::shared_ptr<Channel> control, c10::Device device, const Deadline&,
                                           const NcclChannelOptions&) {
  throw Error("the NCCL transport to " + control->describe_peer() + " is not compiled into this baton",
              "build on a host with CUDA and NCCL (docs/building.md), or use the ZeroMQ transport");
}

}  // namespace baton::transport
