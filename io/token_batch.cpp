#include "io/token_batch.h"

#include <algorithm>

#include "core/error.h"

namespace baton::io {

TokenBatch pad_right(const std::vector<std::vector<int64_t>>& rows, int64_t pad_id, int64_t multiple) {
  require(!rows.empty(), "tokenizer: empty batch (no texts)", "pass at least one prompt");
  require(multiple >= 1, "tokenizer: pad_to_multiple_of must be >= 1");
  size_t longest = 0;
  for (const auto& r : rows) longest = std::max(longest, r.size());
  const int64_t L = (static_cast<int64_t>(longest) + multiple - 1) / multiple * multiple;
  const int64_t B = static_cast<int64_t>(rows.size());
  TokenBatch out;
  out.input_ids = at::full({B, L}, pad_id, at::kLong);
  out.attention_mask = at::zeros({B, L}, at::kLong);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& r = rows[static_cast<size_t>(b)];
    for (size_t i = 0; i < r.size(); ++i) {
      ids[b][static_cast<int64_t>(i)] = r[i];
      mask[b][static_cast<int64_t>(i)] = 1;
    }
    out.lengths.push_back(static_cast<int64_t>(r.size()));
  }
  return out;
}

}  // namespace baton::io
