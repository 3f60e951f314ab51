#pragma once
// What moves over a Channel: a protobuf header and named tensors (a Message),
// and below it the transport-level Packet (an Envelope of any kind plus the
// tensors of a microbatch in descriptor order).
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "transport/wire.pb.h"

namespace baton::transport {

// Who is at the other end of a channel, for error messages:
// "rank 2 (stage dit1) at tcp://10.0.0.5:41234".
struct PeerInfo {
  int rank = -1;
  std::string stage;     // empty until known (the handshake fills it in)
  std::string endpoint;  // empty for in-process peers
  std::string describe() const;
};

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

// One microbatch (or any data message): request id, step and branch in the
// header, tensors by name. send() writes header.tensors (the descriptors) from
// `tensors`; whatever the caller put there is replaced.
struct Message {
  wire::MicrobatchHeader header;
  std::vector<NamedTensor> tensors;

  Message& add(std::string name, at::Tensor tensor);
  // The tensor called `name`; throws Error listing the names present otherwise.
  const at::Tensor& tensor(const std::string& name) const;
  bool contains(const std::string& name) const;
};

// The transport level: an Envelope and, for a microbatch, its tensors in the
// order of envelope.microbatch().tensors(). Channel implementations move Packets.
struct Packet {
  wire::Envelope envelope;
  std::vector<at::Tensor> tensors;
};

}  // namespace baton::transport
