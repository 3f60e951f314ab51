#pragma once
// What stages say to each other about one request (design.md, Flow of one
// request). The same messages move between threads of one process and, over
// the transport, between ranks; a stage does not know which.
//
//   coordinator --Start--> text --Encoded--> dit first --Step--> ... --Step--> dit last
//   (a text stage split over two ranks: text --Encoded(half)--> text1 --Encoded--> dit first)
//   dit last --Latent(step k+1)--> dit first              (the ring, while steps remain)
//   dit last --Progress--> coordinator                    (after every step)
//   dit last --Latent(final)--> vae --Image--> coordinator
//   dit last --Finished--> dit first                      (drop the request's captions)
//   any stage --Failed--> coordinator                     (that request failed)
//   coordinator --Cancel--> every stage                   (forget the request: cancelled or failed)
//   a rank --Ready--> coordinator                         (under mpirun: its stages are loaded; the
//                                                          network consumes it, no stage sees it)
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace baton::worker {

enum class MessageKind { Start, Encoded, Step, Latent, Progress, Image, Finished, Failed, Cancel, Shutdown, Ready };
const char* message_kind_name(MessageKind kind);

// Where a message goes: the coordinator, the text stage (index 1: the tail of
// a text stage split over two ranks), DiT stage `index` (0 = first), or the VAE stage.
struct StageAddress {
  enum class Role { Coordinator, Text, Dit, Vae };
  Role role = Role::Coordinator;
  int64_t index = 0;
  bool operator<(const StageAddress& o) const { return role != o.role ? role < o.role : index < o.index; }
  bool operator==(const StageAddress& o) const { return role == o.role && index == o.index; }
  std::string name() const;  // "coordinator", "text", "text1", "dit0", "vae"
};

struct StageMessage {
  MessageKind kind = MessageKind::Start;
  uint64_t request_id = 0;
  int64_t step = 0;
  std::vector<int64_t> branches;  // Step/Latent: 0 = cond, 1 = uncond, in batch order
  nlohmann::json meta;            // Start/Encoded/Latent: {"request": ...}; Step: {"t": ...}; Failed: {"error": ...}
  std::map<std::string, at::Tensor> tensors;
};

}  // namespace baton::worker
