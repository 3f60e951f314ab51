#pragma once
// Activation working sets at the peak of each component's forward, derived
// from the forward passes of spec A.9-A.11 (DiT), C.2 (Gemma), D.2 (Jina) and
// E.2 (VAE decoder, through models/vae/vae_memory.h). Bytes per microbatch; `e` is the compute dtype's size.
// docs/planning.md lists every term.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/vae/vae_tiling.h"
#include "partition/workload.h"

namespace baton::partition {

struct MemoryBreakdown {
  int64_t total = 0;
  std::vector<std::pair<std::string, int64_t>> parts;  // what is alive at the peak
  void add(const std::string& what, int64_t bytes);
};

// One DiT stage: one microbatch (workload.microbatch_samples samples of the
// joint sequence) through its blocks, walked along models/nextdit (the peak is
// in one block, or in the noise refiner / final layer of the first / last
// stage), plus what the first stage (`prologue`: caption input and the caption
// rows of the requests in flight) and the last (`final`: the sampler's latents)
// keep besides. `cpu`: compat::rms_norm runs in float32 there (on CUDA it is
// one fused kernel).
MemoryBreakdown dit_activations(const ModelConfigs& model, const Workload& workload, int64_t e,
                                AttentionKind attention, bool cpu, bool prologue, bool final);

// The text stage encodes both prompts of a request at `caption_tokens` tokens:
// Gemma's embedding lookup and/or layers (walked along models/gemma3), then the
// Jina tower (models/jina) with Gemma's output kept.
MemoryBreakdown text_activations(const ModelConfigs& model, const Workload& workload, int64_t e,
                                 AttentionKind attention, bool jina, bool gemma_embed, bool gemma_layers);

// A VAE decode of a width x height image, whole or tiled: the VAE's own
// estimate (models::vae_tiled_decode_peak_bytes, docs/vae.md), which follows
// VaeDecoder step by step. `e` 4 = float32 compute, 2 = bf16; `cpu` adds
// oneDNN's blocked copies.
MemoryBreakdown vae_activations(const models::VaeConfig& vae, int64_t width, int64_t height, int64_t e, bool cpu,
                                const models::VaeTiling& tiling);

}  // namespace baton::partition
