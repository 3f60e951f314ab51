#pragma once
// Checks on the token-id batches the text encoders take (Gemma3, Jina), so a
// bad batch is a clear Error instead of an index error deep inside ATen.
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace baton::models {

// `ids` must be an integer [B, L] tensor with B, L >= 1 and every id in
// [0, vocab_size). `model` names the encoder in the message.
void check_token_ids(const at::Tensor& ids, int64_t vocab_size, const std::string& model);

// `mask` [B, L] of 0/1 (any integer or bool dtype) must match ids' shape, be
// right padded (1...1 0...0) and have at least one real token per row.
// Returns the number of real tokens per row, on the CPU.
std::vector<int64_t> check_right_padded_mask(const at::Tensor& mask, const at::Tensor& ids, const std::string& model);

}  // namespace baton::models
