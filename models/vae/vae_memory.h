#pragma once
// Memory of a VAE decode, estimated from the configuration alone (the planner
// calls these; docs/vae.md derives the formula). All sizes in bytes.
//
// Activation peak of one untiled decode of a latent [B, Cl, h, w] with e the
// element size of the compute dtype, P_l = B * (h 2^l) * (w 2^l) pixels at
// upsampling level l, c_l the channels of the block working there, and
// t(n) = n/2 the float32 slice GroupNorm uses below float32 (0 in float32):
//
//   peak = (8 + e) Cl P_0                                       latent, its float copy, z
//        + max over the decoder's steps of what is alive in it:
//            resnet in->out at P:   max((2 in + out) P e, 2 in P e + t(in P e),
//                                       (in + 2 out) P e + t(out P e))
//            upsample c at P:       8 c P e                     (x2 copy + its conv)
//            mid attention, C at N = P_0 positions:
//                                   max(C N (4e + 12), C N (e + 16) + 12 S + 4 B r C)
//                                   S = B r N <= 2^23 scores, r query rows per block
//            conv_out:              (c + 3) P e,  output in float32: 3 P (e + 4)
//
// For FLUX (128..512 channels, x8) the peak is the first resnet of the last
// block: (2*256 + 128) * 64 h w * B * e, i.e. about 1.25 GiB per 128x128 latent
// (1024x1024 image) in bf16. Tiled decoding adds the float32 image and weight
// accumulators (4 (3 + 1) 64 h w B) to one tile's peak. The estimate excludes
// the weights (vae_decoder_weight_bytes) and cuDNN workspaces (cuDNN falls back
// to an algorithm without workspace when the allocator refuses one).
#include <c10/core/ScalarType.h>

#include <cstdint>

#include "models/vae/vae_config.h"
#include "models/vae/vae_tiling.h"

namespace baton::models {

// Smallest tile choose_vae_tile proposes (128 image pixels).
constexpr int64_t kMinVaeTile = 16;

// Bytes of the decoder's weights as VaeDecoder loads them (GroupNorm
// parameters in float32, the rest in `dtype`).
int64_t vae_decoder_weight_bytes(const VaeConfig& config, c10::ScalarType dtype);

// Activation peak of decode_latent on a latent [batch, Cl, latent_h, latent_w].
int64_t vae_decode_peak_bytes(const VaeConfig& config, int64_t latent_h, int64_t latent_w, c10::ScalarType dtype,
                              int64_t batch = 1);

// Activation peak of decode_latent_tiled with `tiling` (equal to
// vae_decode_peak_bytes when one tile covers the latent).
int64_t vae_tiled_decode_peak_bytes(const VaeConfig& config, int64_t latent_h, int64_t latent_w,
                                    c10::ScalarType dtype, const VaeTiling& tiling, int64_t batch = 1);

// The tiling for an activation budget: whole when the untiled decode fits,
// else the largest square tile (a multiple of 8, >= kMinVaeTile, default
// overlap) whose tiled peak fits. Throws Error naming the smallest budget that
// would do when even kMinVaeTile tiles do not fit.
VaeTiling choose_vae_tile(const VaeConfig& config, int64_t latent_h, int64_t latent_w, c10::ScalarType dtype,
                          int64_t budget_bytes, int64_t batch = 1);

}  // namespace baton::models
