#include "partition/workload.h"

#include "core/error.h"

namespace baton::partition {

AttentionKind parse_attention_kind(const std::string& name) {
  if (name == "flash" || name == "efficient" || name == "sdpa") return AttentionKind::kFlash;
  if (name == "math") return AttentionKind::kMath;
  throw UsageError("unknown attention kind '" + name + "'",
                   "use flash (fused SDPA kernels, O(S) memory) or math (O(S^2) scores)");
}

std::string attention_kind_name(AttentionKind kind) { return kind == AttentionKind::kFlash ? "flash" : "math"; }

void validate_workload(const Workload& w, const ModelConfigs& m) {
  const int64_t multiple = m.vae.upscale() * m.dit.patch_size;
  auto size_hint = "width and height must be positive multiples of " + std::to_string(multiple);
  if (w.width <= 0 || w.height <= 0 || w.width % multiple || w.height % multiple)
    throw UsageError("image size " + std::to_string(w.width) + "x" + std::to_string(w.height) + " cannot be generated",
                     size_hint + " (e.g. 1024x1024, 832x1216)");
  const int64_t grid_h = w.height / multiple, grid_w = w.width / multiple;
  if (grid_h > m.dit.axes_lens[1] || grid_w > m.dit.axes_lens[2])
    throw UsageError("image size " + std::to_string(w.width) + "x" + std::to_string(w.height) + " is beyond the DiT's RoPE tables",
                     "at most " + std::to_string(m.dit.axes_lens[2] * multiple) + "x" +
                         std::to_string(m.dit.axes_lens[1] * multiple));
  if (w.caption_tokens < 1 || w.caption_tokens >= m.dit.axes_lens[0])
    throw UsageError("caption length " + std::to_string(w.caption_tokens) + " tokens is out of range",
                     "use 1 to " + std::to_string(m.dit.axes_lens[0] - 1) + " (512 is Gemma's max_length)");
  if (w.microbatch_samples != 1 && w.microbatch_samples != 2)
    throw UsageError("microbatch of " + std::to_string(w.microbatch_samples) + " samples",
                     "use 1 (one CFG branch per microbatch) or 2 (both branches batched)");
  if (w.steps < 1 || w.steps > 10000) throw UsageError("steps must be between 1 and 10000");
}

Geometry geometry(const Workload& w, const ModelConfigs& m) {
  Geometry g;
  g.latent_h = w.height / m.vae.upscale();
  g.latent_w = w.width / m.vae.upscale();
  g.image_tokens = (g.latent_h / m.dit.patch_size) * (g.latent_w / m.dit.patch_size);
  g.joint_tokens = g.image_tokens + w.caption_tokens;
  return g;
}

}  // namespace baton::partition
