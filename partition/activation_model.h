#pragma once
// Activation working sets at the peak of each component's forward, derived
// from the forward passes of spec A.9-A.11 (DiT), C.2 (Gemma), D.2 (Jina) and
// E.2 (VAE decoder). Bytes per microbatch; `e` is the compute dtype's size.
// docs/planning.md lists every term.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "partition/workload.h"

namespace baton::partition {

struct MemoryBreakdown {
  int64_t total = 0;
  std::vector<std::pair<std::string, int64_t>> parts;  // what is alive at the peak
  void add(const std::string& what, int64_t bytes);
};

// Requests whose per-request state (caption rows, latent) a DiT stage keeps
// while they are in flight.
constexpr int64_t kRequestsInFlight = 8;

// One DiT stage: one microbatch (workload.microbatch_samples samples of the
// joint sequence) through a block, plus what the first stage (`prologue`:
// caption input, refiners, latent) and the last (`final`: final layer, latent
// state) keep besides.
MemoryBreakdown dit_activations(const ModelConfigs& model, const Workload& workload, int64_t e,
                                AttentionKind attention, bool prologue, bool final);

// The text stage encodes both prompts of a request at `caption_tokens` tokens:
// the Jina tower, Gemma's embedding lookup and/or Gemma layers, one after the other.
MemoryBreakdown text_activations(const ModelConfigs& model, const Workload& workload, int64_t e,
                                 AttentionKind attention, bool jina, bool gemma_embed, bool gemma_layers);

// TODO(models::vae_decode_peak_bytes): replace with the VAE helper's estimate
// (models/vae) when it lands; this walks spec E.2 with our own live-set counts.
// Peak of one decode of a width x height image (tile_px 0) or of the tiled
// decode with tiles of tile_px (+ halo) pixels.
MemoryBreakdown vae_activations(const models::VaeConfig& vae, int64_t width, int64_t height, int64_t e,
                                AttentionKind attention, int64_t tile_px);

// Pixels decoded on each side of a tile and blended away.
constexpr int64_t kVaeTileHaloPx = 64;

// TODO(models::choose_vae_tile): replace with the VAE helper's choice when it lands.
// 0 when the whole decode fits `available` bytes, else the largest tile (of
// 1024, 768, 512, 384, 256) whose decode fits, else -1.
int64_t choose_vae_tile(const models::VaeConfig& vae, int64_t width, int64_t height, int64_t e,
                        AttentionKind attention, int64_t available);
// Tile sizes worth trying for an image, largest first (all smaller than the image).
std::vector<int64_t> vae_tile_candidates(int64_t width, int64_t height);

}  // namespace baton::partition
