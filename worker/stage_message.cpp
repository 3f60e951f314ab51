#include "worker/stage_message.h"

namespace baton::worker {

const char* message_kind_name(MessageKind kind) {
  switch (kind) {
    case MessageKind::Start: return "start";
    case MessageKind::Encoded: return "encoded";
    case MessageKind::Step: return "step";
    case MessageKind::Latent: return "latent";
    case MessageKind::Progress: return "progress";
    case MessageKind::Image: return "image";
    case MessageKind::Finished: return "finished";
    case MessageKind::Failed: return "failed";
    case MessageKind::Cancel: return "cancel";
    case MessageKind::Shutdown: return "shutdown";
    case MessageKind::Ready: return "ready";
  }
  return "?";
}

std::string StageAddress::name() const {
  switch (role) {
    case Role::Coordinator: return "coordinator";
    case Role::Text: return index == 0 ? "text" : "text" + std::to_string(index);
    case Role::Dit: return "dit" + std::to_string(index);
    case Role::Vae: return "vae";
  }
  return "?";
}

}  // namespace baton::worker
