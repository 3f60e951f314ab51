#include "models/vae/vae_memory.h"

#include <algorithm>

#include "core/byte_size.h"
#include "core/dtype.h"
#include "core/error.h"
#include "models/vae/vae_layers.h"

namespace baton::models {
namespace {

// Follows VaeDecoder::decode step by step (vae_decoder.cpp, vae_layers.cpp)
// and keeps the largest number of bytes alive at any step. Sizes are in
// elements of the compute dtype (e_ bytes each) unless named bytes.
class PeakWalk {
 public:
  PeakWalk(const VaeConfig& c, int64_t elem, bool conv_copies)
      : groups_(c.norm_num_groups), e_(elem), conv_copies_(conv_copies) {}

  int64_t peak() const { return peak_; }

  // GroupNorm(+SiLU) of x (n elements) while `live` other elements are held.
  void norm(int64_t live, int64_t n) { at((live + 2 * n) * e_ + norm_temp(n)); }
  // A convolution from `in` to `out` elements while `live` others are held.
  // The library holds its input and output once more in its own layout:
  // oneDNN's blocked layout on the CPU, cuDNN's NHWC workspace on CUDA.
  void conv(int64_t live, int64_t in, int64_t out) { at((live + in + out + (conv_copies_ ? in + out : 0)) * e_); }

  void resnet(int64_t in, int64_t out, int64_t p) {
    norm(0, in * p);                     // x -> GN1
    conv(in * p, in * p, out * p);       // x held; GN1 -> conv1
    norm(in * p, out * p);               // x held; conv1 -> GN2
    conv(in * p, out * p, out * p);      // x held; GN2 -> conv2
    if (in != out) conv(out * p, in * p, out * p);  // conv2 held; x -> shortcut
  }
  void attention(int64_t c, int64_t batch, int64_t n) {
    const int64_t cn = c * batch * n;
    norm(0, cn);
    at(cn * (4 * e_ + 12));  // x, GN(x), a token copy, q/k/v in e then float32
    const int64_t rows = std::max<int64_t>(1, std::min(n, vae::kAttentionScoreBlock / (batch * n)));
    const int64_t scores = batch * rows * n;
    at(cn * (e_ + 16) + 12 * scores + 4 * batch * rows * c);  // x, q, k, v, output, a block's scores
    at(cn * (4 + 2 * e_));  // x, output in float32 and e, out projection
  }
  void upsample(int64_t c, int64_t p) {
    at(5 * c * p * e_);              // x and its x2 copy
    conv(0, 4 * c * p, 4 * c * p);  // the copy -> conv
  }

 private:
  int64_t norm_temp(int64_t n) const {  // bytes of the float32 slice below float32
    if (e_ >= 4) return 0;
    const int64_t step = std::max<int64_t>(1, groups_ / vae::kGroupNormSlices);
    return 4 * n * step / groups_;
  }
  void at(int64_t bytes) { peak_ = std::max(peak_, bytes); }
  int64_t groups_;
  int64_t e_;
  bool conv_copies_;
  int64_t peak_ = 0;
};

// Peak of VaeDecoder::decode on z [batch, Cl, h, w], z itself excluded.
int64_t decoder_peak(const VaeConfig& c, int64_t h, int64_t w, int64_t e, int64_t batch, bool conv_copies) {
  PeakWalk walk(c, e, conv_copies);
  std::vector<int64_t> ch(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  int64_t p = batch * h * w;
  walk.conv(0, c.latent_channels * p, ch[0] * p);
  walk.resnet(ch[0], ch[0], p);
  if (c.mid_block_add_attention) walk.attention(ch[0], batch, h * w);
  walk.resnet(ch[0], ch[0], p);
  int64_t in = ch[0];
  for (size_t b = 0; b < ch.size(); ++b) {
    for (int64_t r = 0; r <= c.layers_per_block; ++r) {
      walk.resnet(r == 0 ? in : ch[b], ch[b], p);
    }
    in = ch[b];
    if (b + 1 < ch.size()) {
      walk.upsample(ch[b], p);
      p *= 4;
    }
  }
  walk.norm(0, in * p);                           // conv_norm_out + SiLU
  walk.conv(0, in * p, c.out_channels * p);      // conv_out
  return std::max(walk.peak(), c.out_channels * p * (e + 4));  // the image, then in float32
}

int64_t element_size(c10::ScalarType dtype) { return static_cast<int64_t>(c10::elementSize(dtype)); }

int64_t latent_bytes(const VaeConfig& c, int64_t h, int64_t w, int64_t e, int64_t batch) {
  return (8 + e) * c.latent_channels * batch * h * w;  // latent, its float32 copy, z
}

}  // namespace

int64_t vae_decoder_weight_bytes(const VaeConfig& config, c10::ScalarType dtype) {
  int64_t bytes = 0;
  for (const auto& kv : vae_decoder_tensor_shapes(config)) {
    int64_t n = 1;
    for (auto d : kv.second) n *= d;
    const bool is_norm = kv.first.find("norm") != std::string::npos;  // norm1/2, group_norm, conv_norm_out
    bytes += n * (is_norm ? 4 : element_size(dtype));
  }
  return bytes;
}

namespace {

// One tile's decoder peak plus what the tiled decode holds besides (or the
// whole decode when one tile covers the latent).
int64_t tiled_peak(const VaeConfig& config, int64_t latent_h, int64_t latent_w, c10::ScalarType dtype,
                   const VaeTiling& tiling, int64_t batch, bool conv_copies) {
  require(latent_h > 0 && latent_w > 0 && batch > 0, "VAE memory estimate: latent sizes must be positive");
  tiling.validate();
  const int64_t e = element_size(dtype);
  if (tiling.covers(latent_h, latent_w))
    return latent_bytes(config, latent_h, latent_w, e, batch) +
           decoder_peak(config, latent_h, latent_w, e, batch, conv_copies);
  const int64_t th = tiling.tile_h > 0 ? std::min(tiling.tile_h, latent_h) : latent_h;
  const int64_t tw = tiling.tile_w > 0 ? std::min(tiling.tile_w, latent_w) : latent_w;
  const int64_t up2 = config.upscale() * config.upscale();
  const int64_t image_px = latent_h * latent_w * up2, tile_px = th * tw * up2;
  const int64_t accumulators = 4 * (config.out_channels * batch + 1) * image_px;  // image and weight sums
  const int64_t tile_extra = e * config.latent_channels * batch * th * tw          // the tile's z copy
                             + 4 * config.out_channels * batch * tile_px + 8 * tile_px;  // float tile, weights
  return latent_bytes(config, latent_h, latent_w, e, batch) + accumulators + tile_extra +
         decoder_peak(config, th, tw, e, batch, conv_copies);
}

}  // namespace

int64_t vae_decode_peak_bytes(const VaeConfig& config, int64_t latent_h, int64_t latent_w, c10::ScalarType dtype,
                              int64_t batch, c10::DeviceType device) {
  return vae_tiled_decode_peak_bytes(config, latent_h, latent_w, dtype, VaeTiling::whole(), batch, device);
}

int64_t vae_tiled_decode_peak_bytes(const VaeConfig& config, int64_t latent_h, int64_t latent_w,
                                    c10::ScalarType dtype, const VaeTiling& tiling, int64_t batch,
                                    c10::DeviceType /*device: oneDNN and cuDNN both copy (vae_memory.h)*/) {
  return tiled_peak(config, latent_h, latent_w, dtype, tiling, batch, /*conv_copies=*/true);
}

int64_t vae_tiled_decode_least_bytes(const VaeConfig& config, int64_t latent_h, int64_t latent_w,
                                     c10::ScalarType dtype, const VaeTiling& tiling, int64_t batch) {
  return tiled_peak(config, latent_h, latent_w, dtype, tiling, batch, /*conv_copies=*/false);
}

VaeTiling choose_vae_tile(const VaeConfig& config, int64_t latent_h, int64_t latent_w, c10::ScalarType dtype,
                          int64_t budget_bytes, int64_t batch, c10::DeviceType device) {
  if (vae_decode_peak_bytes(config, latent_h, latent_w, dtype, batch, device) <= budget_bytes)
    return VaeTiling::whole();
  for (int64_t t = (std::max(latent_h, latent_w) / 8) * 8; t >= kMinVaeTile; t -= 8) {
    const auto tiling = VaeTiling::square(t);
    if (tiling.covers(latent_h, latent_w)) continue;
    if (vae_tiled_decode_peak_bytes(config, latent_h, latent_w, dtype, tiling, batch, device) <= budget_bytes)
      return tiling;
  }
  const auto smallest = VaeTiling::square(kMinVaeTile);
  const int64_t needed = vae_tiled_decode_peak_bytes(config, latent_h, latent_w, dtype, smallest, batch, device);
  throw Error("VAE decode of a " + std::to_string(latent_h) + "x" + std::to_string(latent_w) + " latent in " +
                  dtype_name(dtype) + " needs " + format_byte_size(needed) + " of activations even in " +
                  std::to_string(kMinVaeTile) + "x" + std::to_string(kMinVaeTile) + " tiles; the budget is " +
                  format_byte_size(budget_bytes),
              "give the VAE stage more memory, or place it on a larger device or the CPU");
}

}  // namespace baton::models
