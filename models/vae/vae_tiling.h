#pragma once
// Tiled VAE decoding: the latent is cut into overlapping tiles, each decoded on
// its own, and the images are blended with linear ramps across every overlap
// (weights normalised to sum to one at each pixel), so the peak activation
// memory is that of one tile.
//
// Tiling is an approximation: the untiled decoder is global through its
// GroupNorm statistics (over the whole map) and its mid-block attention (every
// position attends to every other). A tile sees only its part, and its border
// pixels see zero padding. The ramps give a tile's own border pixels almost no
// weight; what remains is the difference of per-tile and global statistics,
// which shrinks as tiles grow (docs/vae.md, tests/models/vae_tiling_test.cpp).
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

namespace baton::models {

struct VaeTiling {
  int64_t tile_h = 0;   // latent rows per tile; 0 or >= h: one tile spans the height
  int64_t tile_w = 0;   // latent columns per tile; 0 or >= w: one tile spans the width
  int64_t overlap = 0;  // latent rows/columns shared by neighbouring tiles (at least)

  // The tiling that decodes the whole latent at once.
  static VaeTiling whole() { return {}; }
  // Square tiles of `tile` latent pixels with the default overlap for that size.
  static VaeTiling square(int64_t tile);
  // Default overlap: a quarter of the tile, at most 16 latent pixels (128 image
  // pixels), like diffusers' tiled decode.
  static int64_t default_overlap(int64_t tile);

  bool covers(int64_t latent_h, int64_t latent_w) const;
  // "whole" or "64x64 tiles, overlap 16" for logs and plans.
  std::string describe() const;
  // Refuses sizes that cannot tile: negative values, a tile of 2*overlap or less.
  void validate() const;
};

// Starts of the tiles along one axis of `size`: as few tiles of `tile` as
// cover it with neighbours sharing >= overlap, spread evenly; {0} if one fits.
std::vector<int64_t> vae_tile_starts(int64_t size, int64_t tile, int64_t overlap);

// Decodes z [B, C, h, w] tile by tile with `decode_tile` (a latent tile ->
// its image, `upscale` times larger) and blends the tiles in float32. Returns
// float32 on z's device. With one tile covering z it returns decode_tile(z).
at::Tensor decode_tiled(const at::Tensor& z, const VaeTiling& tiling, int64_t upscale,
                        const std::function<at::Tensor(const at::Tensor&)>& decode_tile);

}  // namespace baton::models
