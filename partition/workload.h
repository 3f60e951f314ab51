#pragma once
// What a plan is sized for: image size, caption length, microbatch, steps and
// the attention kernel kind. Memory and time estimates are functions of these.
#include <cstdint>
#include <string>

#include "partition/model_configs.h"

namespace baton::partition {

// flash: fused kernels (flash / memory-efficient SDPA) keep O(S) memory;
// math: the plain softmax(q k^T) v path materialises O(S^2) float32 scores.
// CPUs always run math (core/torch_compat.h's exact fallback).
enum class AttentionKind { kFlash, kMath };
AttentionKind parse_attention_kind(const std::string& name);
std::string attention_kind_name(AttentionKind kind);

struct Workload {
  int64_t width = 1024;
  int64_t height = 1024;
  // Gemma/Jina tokens per prompt and the caption rows of the DiT's joint
  // sequence. 512 is Gemma's max_length (spec C.4): the worst case.
  int64_t caption_tokens = 512;
  int64_t microbatch_samples = 1;  // 1 = one CFG branch per microbatch, 2 = both batched
  int64_t steps = 28;
  AttentionKind attention = AttentionKind::kFlash;
  // Requests whose per-request state (caption rows on the first DiT stage,
  // the sampler's latents on the last) the stages keep while they are in flight.
  int64_t requests_in_flight = 8;

  static constexpr int64_t kPromptsPerRequest = 2;  // conditional + negative (CFG)
  static constexpr int64_t kBranchesPerStep = 2;    // DiT calls per step and image (CFG, cfg_trunc 1.0)
};

// Throws UsageError when the numbers cannot be planned for this model
// (size not a multiple of 16, beyond the RoPE tables, ...).
void validate_workload(const Workload& workload, const ModelConfigs& model);

// Latent grid (H/8, W/8), image tokens N = (H/16)(W/16), joint sequence S = caption + N.
struct Geometry {
  int64_t latent_h = 0, latent_w = 0;
  int64_t image_tokens = 0;
  int64_t joint_tokens = 0;
};
Geometry geometry(const Workload& workload, const ModelConfigs& model);

}  // namespace baton::partition
