#pragma once
// A Channel between two GPU ranks whose tensors travel by NCCL send/recv
// (docs/transport.md, NCCL). The header of every message, and every control
// message, goes over a control Channel (a handshaken ZmqChannel to the same
// peer); only the payload bytes go by NCCL, on the channel's own CUDA streams,
// so transfers overlap the compute on the caller's stream:
//
//   send():    the send stream waits for the caller's current stream (the
//              tensors are ready), the header goes to the peer, then
//              ncclSend of every payload; returns without waiting.
//   receive(): the header arrives (with the caller's deadline), tensors are
//              allocated on the device, ncclRecv into them on the receive
//              stream, and the caller's current stream waits for it. The
//              tensors may be used at once in stream order.
//
// Each direction has its own two-rank communicator, so a send never queues
// behind a receive of the same pair. A watchdog aborts the communicators when
// a transfer outlives its deadline or the peer dies (the control channel's
// failure detection), and the channel then fails with an Error naming the peer.
//
// Compiled only with BATON_WITH_NCCL; without it make_nccl_channel throws.
#include <chrono>
#include <memory>

#include "transport/channel.h"

namespace baton::transport {

struct NcclChannelOptions {
  // A transfer (the NCCL part of one message) must complete within this time
  // after it was issued; a receiver that never posts its receive, or a wedged
  // peer, then fails the channel instead of hanging the GPU stream.
  std::chrono::milliseconds transfer_timeout{300000};
};

// Whether this build has the NCCL transport.
bool nccl_transport_compiled();

// Sets up an NCCL channel with the peer of `control` on `device` (cuda:N).
// Both ranks call it (it exchanges the communicators' unique ids over
// `control`, creates them and connects them), after the handshake on `control`.
std::shared_ptr<Channel> make_nccl_channel(std::shared_ptr<Channel> control, c10::Device device,
                                           const Deadline& deadline, const NcclChannelOptions& options = {});

}  // namespace baton::transport
