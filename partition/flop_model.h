#pragma once
// Floating-point operations of each piece of the model (a multiply-add counts
// 2), from the same shapes as the weights. Checked against baselines.md:
// one 1024x1024 CFG call with 128-token captions = 62.1 TFLOP.
#include <cstdint>

#include "models/vae/vae_tiling.h"
#include "partition/workload.h"

namespace baton::partition {

// One sample through one DiT block of `tokens` tokens (all keys attended).
double dit_block_flops(const models::NextDitConfig& config, int64_t tokens, bool modulated);

// A whole DiT forward of `samples` samples as the reference runs it per call:
// embedders, both refiners, the main blocks and the final layer.
double dit_call_flops(const ModelConfigs& model, const Workload& workload, int64_t samples);

// The DiT's work for one image: steps x CFG branches; the caption path (caption
// embed + context refiner) runs once per request and branch.
struct DitImageFlops {
  double block = 0;     // one main block
  double prologue = 0;  // embedders + refiners (first DiT stage)
  double final = 0;     // final layer (last DiT stage)
};
DitImageFlops dit_flops_per_image(const ModelConfigs& model, const Workload& workload);

// The text stage's work for one image (both prompts at caption_tokens tokens).
double gemma_layer_flops_per_image(const ModelConfigs& model, const Workload& workload);
double jina_flops_per_image(const ModelConfigs& model, const Workload& workload);

// One decode; a tiled decode also decodes the overlaps (once per tile).
double vae_flops_per_image(const models::VaeConfig& vae, int64_t width, int64_t height,
                           const models::VaeTiling& tiling);

}  // namespace baton::partition
