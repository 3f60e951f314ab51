#include "transport/zmq_frames.h"

#include <ATen/ATen.h>

#include "core/error.h"
#include "transport/tensor_codec.h"

namespace baton::transport {
namespace {

void release_tensor(void* /*data*/, void* hint) { delete static_cast<at::Tensor*>(hint); }

}  // namespace

std::vector<zmq::message_t> encode_frames(Packet packet) {
  std::vector<zmq::message_t> frames;
  const std::string header = packet.envelope.SerializeAsString();
  frames.emplace_back(header.data(), header.size());
  if (packet.envelope.payload_out_of_band()) return frames;
  for (auto& tensor : packet.tensors) {
    at::Tensor host = host_contiguous(tensor);
    const size_t bytes = host.nbytes();
    if (bytes == 0) {
      frames.emplace_back();
      continue;
    }
    auto* keep = new at::Tensor(std::move(host));
    frames.emplace_back(keep->data_ptr(), bytes, &release_tensor, keep);
  }
  return frames;
}

Packet decode_frames(std::vector<zmq::message_t> frames, const WireLimits& limits) {
  require(!frames.empty(), "message has no frames");
  Packet packet;
  packet.envelope = parse_envelope(frames[0].data(), frames[0].size(), limits);
  const auto& envelope = packet.envelope;
  size_t expected = 1;
  if (envelope.has_microbatch() && !envelope.payload_out_of_band()) {
    expected += static_cast<size_t>(envelope.microbatch().tensors_size());
  }
  require(frames.size() == expected, "message has " + std::to_string(frames.size()) + " frames, its " +
                                         body_name(envelope) + " header calls for " + std::to_string(expected));
  if (expected == 1) return packet;
  const auto& descriptors = envelope.microbatch().tensors();
  for (int i = 0; i < descriptors.size(); ++i) {
    const auto& frame = frames[i + 1];
    require(frame.size() == descriptors[i].byte_length(),
            "tensor '" + descriptors[i].name() + "': payload frame has " + std::to_string(frame.size()) +
                " bytes, its descriptor declares " + std::to_string(descriptors[i].byte_length()));
  }
  packet.tensors.reserve(descriptors.size());
  for (int i = 0; i < descriptors.size(); ++i) {
    auto* frame = new zmq::message_t(std::move(frames[i + 1]));
    packet.tensors.push_back(
        tensor_from_bytes(descriptors[i], frame->data(), frame->size(), [frame](void*) { delete frame; }));
  }
  return packet;
}

}  // namespace baton::transport
