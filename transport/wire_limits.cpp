#include "transport/wire_limits.h"

#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <set>
#include <vector>

#include "core/error.h"
#include "transport/tensor_codec.h"

namespace baton::transport {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

void check_text(const std::string& text, int max_bytes, const std::string& what) {
  require(static_cast<int64_t>(text.size()) <= max_bytes,
          what + " has " + std::to_string(text.size()) + " bytes, the limit is " + std::to_string(max_bytes));
}

void check_rank(int rank, const WireLimits& limits, const std::string& what) {
  require(rank >= 0 && rank <= limits.max_world_rank,
          what + " is " + std::to_string(rank) + ", expected 0.." + std::to_string(limits.max_world_rank));
}

bool valid_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '/' || c == '-';
}

// One descriptor; returns its byte length. Overflow-safe: every product is
// checked against the element bound before it is formed.
int64_t check_descriptor(const wire::TensorDescriptor& d, int index, const WireLimits& limits) {
  const std::string what = "tensor " + std::to_string(index);
  require(!d.name().empty(), what + " has an empty name");
  check_text(d.name(), limits.max_name_bytes, what + " name");
  require(std::all_of(d.name().begin(), d.name().end(), valid_name_char),
          what + " name has a character outside [A-Za-z0-9_.:/-]");
  const std::string named = "tensor '" + d.name() + "'";
  require(wire::DType_IsValid(d.dtype()) && d.dtype() != wire::DTYPE_UNSPECIFIED,
          named + " has " + wire_dtype_name(d.dtype()) + ", expected a tensor dtype");
  require(d.shape_size() <= limits.max_tensor_rank, named + " has " + std::to_string(d.shape_size()) +
                                                        " dimensions, the limit is " +
                                                        std::to_string(limits.max_tensor_rank));
  int64_t elements = 1;
  for (int i = 0; i < d.shape_size(); ++i) {
    const int64_t size = d.shape(i);
    require(size >= 0, named + " has a negative size " + std::to_string(size) + " in dimension " + std::to_string(i));
    require(size <= limits.max_tensor_elements && (size == 0 || elements <= limits.max_tensor_elements / size),
            named + " has more than " + std::to_string(limits.max_tensor_elements) + " elements (the limit)");
    elements *= size;
  }
  const int64_t bytes = elements * wire_itemsize(d.dtype());
  require(d.byte_length() == static_cast<uint64_t>(bytes),
          named + " declares " + std::to_string(d.byte_length()) + " bytes, but " + wire_dtype_name(d.dtype()) + " x " +
              std::to_string(elements) + " elements is " + std::to_string(bytes));
  return bytes;
}

void check_microbatch(const wire::MicrobatchHeader& m, const WireLimits& limits) {
  require(wire::Branch_IsValid(m.branch()), "branch " + std::to_string(m.branch()) + " is not a Branch");
  require(wire::StageKind_IsValid(m.kind()), "kind " + std::to_string(m.kind()) + " is not a StageKind");
  check_text(m.stage(), limits.max_name_bytes, "stage");
  require(static_cast<int64_t>(m.meta().size()) <= limits.max_meta_bytes,
          "meta has " + std::to_string(m.meta().size()) + " bytes, the limit is " +
              std::to_string(limits.max_meta_bytes));
  require(m.tensors_size() <= limits.max_tensors_per_message, "message has " + std::to_string(m.tensors_size()) +
                                                                  " tensors, the limit is " +
                                                                  std::to_string(limits.max_tensors_per_message));
  std::set<std::string> names;
  int64_t total = 0;
  for (int i = 0; i < m.tensors_size(); ++i) {
    total += check_descriptor(m.tensors(i), i, limits);
    require(names.insert(m.tensors(i).name()).second, "tensor name '" + m.tensors(i).name() + "' appears twice");
    require(total <= limits.max_message_bytes,
            "message payloads exceed " + std::to_string(limits.max_message_bytes) + " bytes (the limit)");
  }
}

}  // namespace

// proto3 keeps fields it does not know; a peer that sends them speaks another
// schema, so they are refused (issue 10, Bad input).
std::string first_unknown_field(const google::protobuf::Message& message, const std::string& path) {
  const auto* reflection = message.GetReflection();
  if (!reflection->GetUnknownFields(message).empty()) {
    return path + " field " + std::to_string(reflection->GetUnknownFields(message).field(0).number());
  }
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string child = path + "." + field->name();
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        auto found = first_unknown_field(reflection->GetRepeatedMessage(message, field, i),
                                         child + "[" + std::to_string(i) + "]");
        if (!found.empty()) return found;
      }
    } else {
      auto found = first_unknown_field(reflection->GetMessage(message, field), child);
      if (!found.empty()) return found;
    }
  }
  return {};
}

void WireLimits::validate() const {
  require(max_header_bytes > 0 && max_tensors_per_message > 0 && max_tensor_rank > 0 && max_tensor_elements > 0 &&
              max_message_bytes > 0 && max_world_rank > 0 && max_name_bytes > 0 && max_text_bytes > 0 &&
              max_meta_bytes > 0 && max_queued_bytes > 0,
          "wire limits: every limit must be positive");
}

int64_t WireLimits::max_frame_bytes() const { return std::max(max_header_bytes, max_message_bytes); }

std::string body_name(const wire::Envelope& envelope) {
  switch (envelope.body_case()) {
    case wire::Envelope::kHello:
      return "Hello";
    case wire::Envelope::kMicrobatch:
      return "MicrobatchHeader";
    case wire::Envelope::kHeartbeat:
      return "Heartbeat";
    case wire::Envelope::kErrorReport:
      return "ErrorReport";
    case wire::Envelope::kShutdown:
      return "Shutdown";
    case wire::Envelope::kNcclSetup:
      return "NcclSetup";
    case wire::Envelope::BODY_NOT_SET:
      return "an empty envelope";
  }
  return "an unknown body";
}

void check_envelope(const wire::Envelope& e, const WireLimits& limits) {
  require(e.protocol_version() == kProtocolVersion,
          "protocol version " + std::to_string(e.protocol_version()) + ", this build speaks " +
              std::to_string(kProtocolVersion),
          "run the same baton build on every rank");
  require(!e.payload_out_of_band() || e.has_microbatch(), "only a MicrobatchHeader may have out-of-band payloads");
  switch (e.body_case()) {
    case wire::Envelope::kHello:
      check_rank(e.hello().rank(), limits, "Hello rank");
      require(wire::DType_IsValid(e.hello().dtype()),
              "Hello dtype " + wire_dtype_name(e.hello().dtype()) + " is not a DType");
      check_text(e.hello().model_hash(), limits.max_text_bytes, "Hello model_hash");
      check_text(e.hello().plan_hash(), limits.max_text_bytes, "Hello plan_hash");
      check_text(e.hello().stage(), limits.max_name_bytes, "Hello stage");
      break;
    case wire::Envelope::kMicrobatch:
      check_microbatch(e.microbatch(), limits);
      break;
    case wire::Envelope::kHeartbeat:
      break;
    case wire::Envelope::kErrorReport:
      check_rank(e.error_report().rank(), limits, "ErrorReport rank");
      check_text(e.error_report().stage(), limits.max_name_bytes, "ErrorReport stage");
      check_text(e.error_report().message(), limits.max_text_bytes, "ErrorReport message");
      break;
    case wire::Envelope::kShutdown:
      check_text(e.shutdown().reason(), limits.max_text_bytes, "Shutdown reason");
      break;
    case wire::Envelope::kNcclSetup:
      require(e.nccl_setup().unique_id().size() == kNcclUniqueIdBytes,
              "NcclSetup unique_id has " + std::to_string(e.nccl_setup().unique_id().size()) + " bytes, expected " +
                  std::to_string(kNcclUniqueIdBytes));
      break;
    case wire::Envelope::BODY_NOT_SET:
      throw Error("envelope has no body (or one this build does not know)");
  }
}

wire::Envelope parse_envelope(const void* data, size_t size, const WireLimits& limits) {
  require(size > 0, "header frame is empty");
  require(
      static_cast<int64_t>(size) <= limits.max_header_bytes,
      "header frame has " + std::to_string(size) + " bytes, the limit is " + std::to_string(limits.max_header_bytes));
  wire::Envelope envelope;
  require(envelope.ParseFromArray(data, static_cast<int>(size)), "header frame is not a valid Envelope");
  auto unknown = first_unknown_field(envelope, "Envelope");
  require(unknown.empty(), "header has an unknown " + unknown, "run the same baton build on every rank");
  check_envelope(envelope, limits);
  return envelope;
}

int64_t declared_payload_bytes(const wire::Envelope& envelope) {
  if (!envelope.has_microbatch()) return 0;
  int64_t total = 0;
  for (const auto& d : envelope.microbatch().tensors()) total += static_cast<int64_t>(d.byte_length());
  return total;
}

}  // namespace baton::transport
