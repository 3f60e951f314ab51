#pragma once
// The ZeroMQ form of a Packet (docs/transport.md, Frames): one multipart
// message, [header: serialised Envelope][payload 0]...[payload n-1], a payload
// frame per tensor descriptor holding its raw little-endian C-contiguous bytes.
#include <vector>
#include <zmq.hpp>

#include "transport/message.h"
#include "transport/wire_limits.h"

namespace baton::transport {

// Serialises the header; payloads are contiguous CPU bytes, sent without a copy
// when the tensor already is one (the frame keeps the tensor alive until
// libzmq has sent it). No payload frames when the envelope says out-of-band.
std::vector<zmq::message_t> encode_frames(Packet packet);

// The header first (parse_envelope: size bound, schema, limits), then the
// frame count and every frame's size against its descriptor, then the
// tensors (borrowing the frames' bytes when aligned). Throws Error naming the
// problem; nothing is allocated for a message that fails a check.
Packet decode_frames(std::vector<zmq::message_t> frames, const WireLimits& limits);

}  // namespace baton::transport
