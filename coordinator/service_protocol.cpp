#include "coordinator/service_protocol.h"

#include "core/error.h"
#include "transport/wire_limits.h"

namespace baton::coordinator {
namespace {

template <class M>
M parse_checked(const void* data, size_t size, int64_t max_bytes, const char* what) {
  if (static_cast<int64_t>(size) > max_bytes)
    throw UsageError(std::string(what) + " of " + std::to_string(size) + " bytes is above the limit of " +
                     std::to_string(max_bytes) + " bytes");
  M m;
  if (!m.ParseFromArray(data, static_cast<int>(size)))
    throw UsageError(std::string(what) + " does not parse as baton.service." + M::descriptor()->name(),
                     "talk to baton serve with `baton submit` or a client of coordinator/service.proto");
  if (m.protocol_version() != kServiceProtocolVersion)
    throw UsageError(std::string(what) + " has protocol version " + std::to_string(m.protocol_version()) +
                         ", this side speaks version " + std::to_string(kServiceProtocolVersion),
                     "use the same baton version on both sides");
  const auto unknown = transport::first_unknown_field(m, M::descriptor()->name());
  if (!unknown.empty())
    throw UsageError(std::string(what) + " has a field this side does not know (" + unknown + ")",
                     "use the same baton version on both sides");
  return m;
}

}  // namespace

service::ClientMessage parse_client_message(const void* data, size_t size) {
  auto m = parse_checked<service::ClientMessage>(data, size, kMaxClientMessageBytes, "request");
  if (m.body_case() == service::ClientMessage::BODY_NOT_SET) throw UsageError("request has no body (submit, status, ...)");
  return m;
}

service::ServerMessage parse_server_message(const void* data, size_t size) {
  try {
    auto m = parse_checked<service::ServerMessage>(data, size, kMaxServerMessageBytes, "answer");
    if (m.body_case() == service::ServerMessage::BODY_NOT_SET) throw UsageError("answer has no body");
    return m;
  } catch (const UsageError& e) {
    throw Error("the server's " + std::string(e.what()), e.hint());
  }
}

service::RequestParameters to_parameters(const sampling::GenerationRequest& r) {
  service::RequestParameters p;
  p.set_prompt(r.prompt);
  p.set_negative_prompt(r.negative_prompt);
  p.set_system_prompt(r.system_prompt);
  p.set_width(r.width);
  p.set_height(r.height);
  p.set_steps(r.steps);
  p.set_cfg_scale(r.cfg_scale);
  p.set_cfg_trunc(r.cfg_trunc);
  p.set_renorm_cfg(r.renorm_cfg);
  p.set_shift(r.shift);
  p.set_seed(r.seed);
  return p;
}

sampling::GenerationRequest to_request(const service::RequestParameters& p) {
  sampling::GenerationRequest r;
  r.prompt = p.prompt();
  r.negative_prompt = p.negative_prompt();
  r.system_prompt = p.system_prompt();
  r.width = p.width();
  r.height = p.height();
  r.steps = p.steps();
  r.cfg_scale = p.cfg_scale();
  r.cfg_trunc = p.cfg_trunc();
  r.renorm_cfg = p.renorm_cfg();
  r.shift = p.shift();
  r.seed = p.seed();
  r.validate();
  return r;
}

std::string job_state_name(service::JobState state) {
  switch (state) {
    case service::QUEUED: return "queued";
    case service::RUNNING: return "running";
    case service::DONE: return "done";
    case service::FAILED: return "failed";
    case service::CANCELLED: return "cancelled";
    default: return "unknown";
  }
}

std::string serialize(const google::protobuf::Message& message) {
  std::string out;
  message.SerializeToString(&out);
  return out;
}

}  // namespace baton::coordinator
