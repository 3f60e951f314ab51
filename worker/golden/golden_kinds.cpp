#include "worker/golden/golden_check.h"

namespace baton::worker {

GoldenKind vae_golden_kind();  // vae_golden.cpp

// One entry per network or pipeline piece; each lives beside this file
// (dit_golden.cpp, gemma3_golden.cpp, ...).
const std::vector<GoldenKind>& golden_kinds() {
  static const std::vector<GoldenKind> kinds = {
      vae_golden_kind(),
  };
  return kinds;
}

}  // namespace baton::worker
