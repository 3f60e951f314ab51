#pragma once
// Memory of a VAE decode, estimated from the configuration alone (the planner
// calls these; docs/vae.md derives the formula). All sizes in bytes.
//
// Activation peak of one untiled decode of a latent [B, Cl, h, w]: e is the
// element size of the compute dtype, P = B * (h 2^l) * (w 2^l) the pixels at
// upsampling level l, t(n) = 2n bytes the float32 slice GroupNorm uses for n
// elements below float32 (1/8 of n in float32; 0 in float32 itself). A conv
// from `in` to `out` elements costs 2 (in + out) e: its input and output, and
// both once more in the library's own layout (oneDNN's blocked layout on the
// CPU; on CUDA cuDNN's NHWC kernels transform the NCHW input and output in a
// workspace of that size).
//
//   peak = (8 + e) Cl P_0                   the latent, its float32 copy, z
//        + max over the decoder's steps of the bytes alive in the step:
//     resnet in->out at P (x stays alive):  GN1 2 in P e + t(in P)
//                                           conv1 (in P) + conv(in P -> out P)
//                                           GN2 (in + 2 out) P e + t(out P)
//                                           conv2 (in P) + conv(out P -> out P)
//                                           shortcut (out P) + conv(in P -> out P)
//     upsample c at P:                      5 c P e, then conv(4 c P -> 4 c P)
//     mid attention, C at N = h w:          max(B C N (4e + 12),
//                                               B C N (e + 16) + 12 S + 4 B r C)
//                                           S = B r N <= 2^23 scores of r query rows
//     conv_norm_out, conv_out:              2 c P e + t(c P), conv(c P -> 3 P),
//                                           the image in float32: 3 P (e + 4)
//
// For FLUX (512/512/256/128 channels, x8) the peak is conv1 of the first
// resnet of the last up block at full resolution: its input x (256 ch) held for
// the shortcut, GN(x) (256 ch), conv1's output (128 ch), and the layout copies
// of GN(x) and the output: (3*256 + 2*128) * 64 h w B e, 2.0 GiB for a 128x128
// latent (1024x1024 image) in bf16 (the last upsample's conv ties with it).
// Measured on an H200 (bf16, libtorch 2.x, issue 8): 2.13 GiB peak allocated =
// this + the weights (0.09 GiB) + the cuBLAS workspace the planner adds
// (partition::kGpuLibraryWorkspace); 64x64 tiles of a 2048x2048 image: 0.72 GiB.
// Tiled decoding adds the float32 image and weight sums (4 (3B + 1) 64 h w)
// and a tile's float32 copy to one tile's peak. Weights are not included
// (vae_decoder_weight_bytes).
//
// cuDNN's copies are elastic: when a capped allocator refuses the workspace,
// cuDNN picks an algorithm without it (slower), and the decode peaks between
// vae_tiled_decode_least_bytes (no copies) and the cap. The planner and
// choose_vae_tile size for the copies, so a plan's numbers hold uncapped too.
// tests/models/vae_tiling_test.cpp checks the CPU estimate against a counting
// allocator and pins the CUDA one to the H200 measurements; `baton bench vae`
// (bench/vae_scenario.cpp) prints estimate and CUDA peak side by side.
#include <c10/core/DeviceType.h>
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
                              int64_t batch = 1, c10::DeviceType device = c10::DeviceType::CUDA);

// Activation peak of decode_latent_tiled with `tiling` (equal to
// vae_decode_peak_bytes when one tile covers the latent).
int64_t vae_tiled_decode_peak_bytes(const VaeConfig& config, int64_t latent_h, int64_t latent_w,
                                    c10::ScalarType dtype, const VaeTiling& tiling, int64_t batch = 1,
                                    c10::DeviceType device = c10::DeviceType::CUDA);

// The least the decode runs in on CUDA: the peak without cuDNN's layout
// copies (what a decode under a tight allocator cap reaches at the least).
int64_t vae_tiled_decode_least_bytes(const VaeConfig& config, int64_t latent_h, int64_t latent_w,
                                     c10::ScalarType dtype, const VaeTiling& tiling, int64_t batch = 1);

// The tiling for an activation budget: whole when the untiled decode fits,
// else the largest square tile (a multiple of 8, >= kMinVaeTile, default
// overlap) whose tiled peak fits. Throws Error naming the smallest budget that
// would do when even kMinVaeTile tiles do not fit.
VaeTiling choose_vae_tile(const VaeConfig& config, int64_t latent_h, int64_t latent_w, c10::ScalarType dtype,
                          int64_t budget_bytes, int64_t batch = 1, c10::DeviceType device = c10::DeviceType::CUDA);

}  // namespace baton::models
