#pragma once
// A right-padded batch of token ids, as both text tokenizers produce it.
#include <ATen/ATen.h>

#include <vector>

namespace baton::io {

struct TokenBatch {
  at::Tensor input_ids;       // [B, L] int64, right padded with the pad id
  at::Tensor attention_mask;  // [B, L] int64, 1 for real tokens
  std::vector<int64_t> lengths;  // real tokens per row
};

// Right-pads `rows` with `pad_id` to the longest row rounded up to a multiple
// of `multiple` (>= 1). Throws Error for an empty batch.
TokenBatch pad_right(const std::vector<std::vector<int64_t>>& rows, int64_t pad_id, int64_t multiple = 1);

}  // namespace baton::io
