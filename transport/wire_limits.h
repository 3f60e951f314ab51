#pragma once
// The schema and size checks every received header passes before anything is
// allocated for it (design.md, Planes: "every size is checked against the
// schema and a bound"). Also used on the sending side, so an oversized message
// fails where it was made, not at the peer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "transport/wire.pb.h"

namespace baton::transport {

// Bumped on any incompatible change of wire.proto or of the frame layout.
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kNcclUniqueIdBytes = 128;

// Bounds on what a peer may send. Defaults fit released sizes (a microbatch at
// 2048x2048 with both branches is about 200 MB) with a wide margin.
struct WireLimits {
  int64_t max_header_bytes = 256 << 10;  // the protobuf header frame
  int max_tensors_per_message = 64;
  int max_tensor_rank = 8;  // dimensions per tensor
  int64_t max_tensor_elements = int64_t(1) << 30;
  int64_t max_message_bytes = int64_t(1) << 30;  // sum of a message's payloads
  int max_world_rank = 65535;                    // largest rank number in Hello/ErrorReport
  int max_name_bytes = 128;                      // tensor names
  int max_text_bytes = 16 << 10;                 // hashes, stage names, error messages
  // A pipeline message's JSON meta (the request: three prompts of up to 64 KiB).
  int64_t max_meta_bytes = 240 << 10;
  // Received but not yet taken by receive(), per channel: beyond it the
  // sender ignores flow control and the channel fails.
  int64_t max_queued_bytes = int64_t(4) << 30;

  // Throws Error when a limit is not positive.
  void validate() const;
  // The largest frame a transport accepts at all (ZMQ_MAXMSGSIZE).
  int64_t max_frame_bytes() const;
};

// Parses a header frame: the size bound first, then protobuf, then the schema
// (protocol version, a body, no unknown fields) and every size in it.
// Throws Error naming what is wrong.
wire::Envelope parse_envelope(const void* data, size_t size, const WireLimits& limits);

// The schema and bound checks of parse_envelope on an Envelope in memory.
void check_envelope(const wire::Envelope& envelope, const WireLimits& limits);

// proto3 keeps fields it does not know; a peer that sends them speaks another
// schema. The first such field at any depth ("Envelope.hello field 9"), or ""
// when there is none. Also used by the service protocol (coordinator/).
std::string first_unknown_field(const google::protobuf::Message& message, const std::string& path);

// Sum of the byte lengths a microbatch declares (0 for other bodies). Only
// meaningful after check_envelope.
int64_t declared_payload_bytes(const wire::Envelope& envelope);

// "Hello", "MicrobatchHeader", ... for log lines and errors.
std::string body_name(const wire::Envelope& envelope);

}  // namespace baton::transport
