#pragma once
// StageMessages between ranks (docs/distributed.md, What crosses the wire):
// kind, addressee stage, request id, step, branches and the JSON meta go in a
// transport MicrobatchHeader, the tensors as named tensors. The transport has
// checked every size against its WireLimits before this code sees a message.
#include <string>
#include <utility>

#include "transport/message.h"
#include "worker/stage_message.h"

namespace baton::worker {

// "coordinator", "text", "dit3", "vae" -> the address; throws Error otherwise.
StageAddress parse_stage_address(const std::string& name);

// Throws Error for what has no wire form (a Shutdown message: the transport
// ends streams itself; branches other than [], [0], [1], [0, 1]).
transport::Message to_wire(const StageAddress& to, const StageMessage& message);

// The addressee and the message; throws Error naming what is wrong (no kind,
// an unknown stage, meta that is not a JSON object).
std::pair<StageAddress, StageMessage> from_wire(transport::Message message);

}  // namespace baton::worker
