#include "models/nextdit/token_layout.h"

namespace baton::models {

TokenLayout TokenLayout::packed(const std::vector<int64_t>& lengths) {
  TokenLayout layout;
  layout.lengths = lengths;
  int64_t offset = 0;
  for (auto n : lengths) {
    layout.offsets.push_back(offset);
    offset += n;
  }
  return layout;
}

int64_t TokenLayout::total_rows() const {
  int64_t total = 0;
  for (auto n : lengths) total += n;
  return total;
}

bool TokenLayout::uniform() const {
  for (auto n : lengths)
    if (n != lengths.front()) return false;
  return true;
}

}  // namespace baton::models
