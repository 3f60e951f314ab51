#pragma once
// Where each sample's rows sit in a packed token matrix [S_total, D]: samples
// follow one another without padding (cond and uncond captions differ in
// length, and no compute is spent on padding).
#include <cstdint>
#include <vector>

namespace baton::models {

struct TokenLayout {
  std::vector<int64_t> offsets;  // first row of each sample
  std::vector<int64_t> lengths;  // rows of each sample

  // Samples of the given lengths, one after the other from row 0.
  static TokenLayout packed(const std::vector<int64_t>& lengths);

  int64_t batch() const { return static_cast<int64_t>(lengths.size()); }
  int64_t total_rows() const;
  // True when every sample has the same length (one batched attention call).
  bool uniform() const;
};

}  // namespace baton::models
