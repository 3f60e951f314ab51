#pragma once
// What crosses a DiT stage boundary (design.md): the joint sequence of every
// sample in the microbatch, packed without padding, and the conditioning vector.
#include <ATen/ATen.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/nextdit/nextdit_config.h"
#include "models/nextdit/token_layout.h"

namespace baton::models {

// The caption rows of a request after the caption embedder and the context
// refiner (spec A.6, A.11.2): independent of the timestep, so computed once per
// request and reused at every step. Samples packed: [sum(lengths), D].
struct CaptionTokens {
  at::Tensor tokens;
  std::vector<int64_t> lengths;  // Lc per sample (real tokens, BOS included)

  int64_t batch() const { return static_cast<int64_t>(lengths.size()); }
  TokenLayout layout() const { return TokenLayout::packed(lengths); }
  // The samples `which` (in that order), e.g. {0} for the conditional branch alone.
  CaptionTokens select(const std::vector<int64_t>& which) const;
};

// Per sample b: caption rows 0..Lc_b-1 then the Ht*Wt image tokens (A.11.4),
// samples one after the other: tokens [sum_b (Lc_b + Ht*Wt), D].
struct JointSequence {
  at::Tensor tokens;                     // [S_total, D], activation dtype
  at::Tensor conditioning;               // c [B, adaln] (A.5), activation dtype
  std::vector<int64_t> caption_lengths;  // Lc per sample
  int64_t grid_h = 0;                    // Ht = latent height / patch
  int64_t grid_w = 0;                    // Wt = latent width / patch

  int64_t batch() const { return static_cast<int64_t>(caption_lengths.size()); }
  int64_t image_tokens() const { return grid_h * grid_w; }
  // Rows of each sample (caption + image) in `tokens`.
  TokenLayout layout() const;
  // Throws Error naming what does not fit `config` (width, row count, batch).
  void validate(const NextDitConfig& config) const;

  // As a transport message: the activations as named tensors ("tokens",
  // "conditioning") and the caption lengths and grid as metadata
  // ({"caption_lengths": [Lc...], "grid": [Ht, Wt]}). Small host integers
  // travel with the message header, so a device transport (NCCL) moves only
  // the activations and the receiver never waits for a copy back to the host.
  struct Message {
    std::map<std::string, at::Tensor> tensors;
    nlohmann::json layout;
  };
  Message to_message() const;
  // The inverse, for a message from the network: throws Error when a tensor
  // is missing or the layout is malformed (checked before anything is built).
  static JointSequence from_message(const std::map<std::string, at::Tensor>& tensors, const nlohmann::json& layout);
};

}  // namespace baton::models
