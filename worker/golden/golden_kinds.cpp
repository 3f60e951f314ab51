#include "worker/golden/golden_check.h"

namespace baton::worker {

// One entry per network or pipeline piece; each lives beside this file
// (dit_golden.cpp, gemma3_golden.cpp, ...).
const std::vector<GoldenKind>& golden_kinds() {
  static const std::vector<GoldenKind> kinds = {};
  return kinds;
}

}  // namespace baton::worker
