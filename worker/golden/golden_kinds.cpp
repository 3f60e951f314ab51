#include "worker/golden/golden_check.h"

namespace baton::worker {

GoldenKind dit_golden_kind();  // dit_golden.cpp
GoldenKind gemma3_golden_kind();
GoldenKind jina_golden_kind();
GoldenKind vae_golden_kind();  // vae_golden.cpp
GoldenKind scheduler_golden_kind();  // pipeline_golden.cpp
GoldenKind e2e_golden_kind();        // pipeline_golden.cpp

// One entry per network or pipeline piece; each lives beside this file
// (dit_golden.cpp, gemma3_golden.cpp, ...).
const std::vector<GoldenKind>& golden_kinds() {
  static const std::vector<GoldenKind> kinds = {
      dit_golden_kind(),
      gemma3_golden_kind(),
      jina_golden_kind(),
      vae_golden_kind(),
      scheduler_golden_kind(),
      e2e_golden_kind(),
  };
  return kinds;
}

}  // namespace baton::worker
