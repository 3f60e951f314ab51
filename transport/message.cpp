#include "transport/message.h"

#include "core/error.h"

namespace baton::transport {

std::string PeerInfo::describe() const {
  std::string text = "rank " + std::to_string(rank);
  if (!stage.empty()) text += " (stage " + stage + ")";
  if (!endpoint.empty()) text += " at " + endpoint;
  return text;
}

Message& Message::add(std::string name, at::Tensor tensor) {
  tensors.push_back({std::move(name), std::move(tensor)});
  return *this;
}

bool Message::contains(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return true;
  }
  return false;
}

const at::Tensor& Message::tensor(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return t.tensor;
  }
  std::string present;
  for (const auto& t : tensors) present += (present.empty() ? "" : ", ") + t.name;
  throw Error("message (request " + std::to_string(header.request_id()) + ", step " + std::to_string(header.step()) +
              ") has no tensor '" + name + "'; it has: " + (present.empty() ? "none" : present));
}

}  // namespace baton::transport
