#include "worker/stage_wire.h"

#include "core/error.h"

namespace baton::worker {
namespace {

using Role = StageAddress::Role;

struct KindPair {
  MessageKind kind;
  wire::StageKind on_wire;
};
constexpr KindPair kKinds[] = {
    {MessageKind::Start, wire::STAGE_START},       {MessageKind::Encoded, wire::STAGE_ENCODED},
    {MessageKind::Step, wire::STAGE_STEP},         {MessageKind::Latent, wire::STAGE_LATENT},
    {MessageKind::Progress, wire::STAGE_PROGRESS}, {MessageKind::Image, wire::STAGE_IMAGE},
    {MessageKind::Finished, wire::STAGE_FINISHED}, {MessageKind::Failed, wire::STAGE_FAILED},
    {MessageKind::Cancel, wire::STAGE_CANCEL},     {MessageKind::Ready, wire::STAGE_READY},
};

wire::Branch branch_of(const std::vector<int64_t>& branches) {
  if (branches.empty()) return wire::BRANCH_UNSPECIFIED;
  if (branches == std::vector<int64_t>{0}) return wire::COND;
  if (branches == std::vector<int64_t>{1}) return wire::UNCOND;
  if (branches == std::vector<int64_t>{0, 1}) return wire::BOTH;
  throw Error("a stage message carries branches that have no wire form (expected [0], [1] or [0, 1])");
}

std::vector<int64_t> branches_of(wire::Branch branch) {
  switch (branch) {
    case wire::COND: return {0};
    case wire::UNCOND: return {1};
    case wire::BOTH: return {0, 1};
    default: return {};
  }
}

}  // namespace

StageAddress parse_stage_address(const std::string& name) {
  if (name == "coordinator") return {Role::Coordinator, 0};
  if (name == "text") return {Role::Text, 0};
  if (name == "text1") return {Role::Text, 1};
  if (name == "vae") return {Role::Vae, 0};
  if (name.size() > 3 && name.size() <= 7 && name.compare(0, 3, "dit") == 0 &&
      name.find_first_not_of("0123456789", 3) == std::string::npos)
    return {Role::Dit, std::stoll(name.substr(3))};
  throw Error("stage message addressed to '" + name.substr(0, 64) + "', which is no stage",
              "expected coordinator, text, dit<N> or vae");
}

transport::Message to_wire(const StageAddress& to, const StageMessage& m) {
  transport::Message out;
  auto& h = out.header;
  bool known = false;
  for (const auto& k : kKinds)
    if (k.kind == m.kind) {
      h.set_kind(k.on_wire);
      known = true;
    }
  if (!known) throw Error(std::string("a ") + message_kind_name(m.kind) + " message does not travel between ranks");
  h.set_request_id(m.request_id);
  h.set_step(static_cast<int32_t>(m.step));
  h.set_branch(branch_of(m.branches));
  h.set_stage(to.name());
  if (!m.meta.is_null()) h.set_meta(m.meta.dump());
  for (const auto& [name, tensor] : m.tensors) out.add(name, tensor);
  return out;
}

std::pair<StageAddress, StageMessage> from_wire(transport::Message in) {
  const auto& h = in.header;
  StageMessage m;
  bool known = false;
  for (const auto& k : kKinds)
    if (k.on_wire == h.kind()) {
      m.kind = k.kind;
      known = true;
    }
  if (!known) throw Error("a message between ranks has no stage message kind (kind " + std::to_string(h.kind()) + ")");
  const StageAddress to = parse_stage_address(h.stage());
  m.request_id = h.request_id();
  m.step = h.step();
  m.branches = branches_of(h.branch());
  if (!h.meta().empty()) {
    m.meta = nlohmann::json::parse(h.meta(), nullptr, /*allow_exceptions=*/false);
    if (!m.meta.is_object())
      throw Error(std::string(message_kind_name(m.kind)) + " message for request " + std::to_string(m.request_id) +
                  ": its meta is not a JSON object");
  }
  for (auto& t : in.tensors) m.tensors[t.name] = std::move(t.tensor);
  return {to, std::move(m)};
}

}  // namespace baton::worker
