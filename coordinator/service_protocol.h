#pragma once
// The service protocol's checks and conversions (coordinator/service.proto,
// docs/service.md): what a server does with the bytes of one frame before it
// trusts them, and what a client does with the answer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "coordinator/service.pb.h"
#include "sampling/generation_request.h"

namespace baton::coordinator {

// Bumped on any incompatible change of service.proto or of the framing.
inline constexpr uint32_t kServiceProtocolVersion = 1;
// Where `baton serve` listens and clients connect when not told otherwise.
inline constexpr const char* kDefaultServiceEndpoint = "tcp://127.0.0.1:7690";
// The largest ClientMessage: three 64 KiB prompts and the rest, with room.
inline constexpr int64_t kMaxClientMessageBytes = 256 << 10;
// The largest ServerMessage a client accepts: an 8192x8192 PNG at worst.
inline constexpr int64_t kMaxServerMessageBytes = int64_t(512) << 20;

// Parses one client frame: the size bound, protobuf, the protocol version, a
// body, no unknown field at any depth. Throws UsageError naming the problem
// (the server sends it back as an ErrorReply).
service::ClientMessage parse_client_message(const void* data, size_t size);
// The same for a server's answer on the client side (Error: the server is
// not speaking our protocol).
service::ServerMessage parse_server_message(const void* data, size_t size);

service::RequestParameters to_parameters(const sampling::GenerationRequest& request);
// UTF-8 and range checks of GenerationRequest::validate; throws UsageError.
sampling::GenerationRequest to_request(const service::RequestParameters& parameters);

std::string job_state_name(service::JobState state);  // "queued", "running", ...
std::string serialize(const google::protobuf::Message& message);

}  // namespace baton::coordinator
