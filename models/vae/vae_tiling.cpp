#include "models/vae/vae_tiling.h"

#include <algorithm>

#include "core/error.h"
#include "core/tensor_source.h"  // format_shape

namespace baton::models {

VaeTiling VaeTiling::square(int64_t tile) { return {tile, tile, default_overlap(tile)}; }

int64_t VaeTiling::default_overlap(int64_t tile) { return std::min<int64_t>(16, tile / 4); }

bool VaeTiling::covers(int64_t latent_h, int64_t latent_w) const {
  return (tile_h <= 0 || tile_h >= latent_h) && (tile_w <= 0 || tile_w >= latent_w);
}

std::string VaeTiling::describe() const {
  if (tile_h <= 0 && tile_w <= 0) return "whole";
  auto side = [](int64_t t) { return t <= 0 ? std::string("full") : std::to_string(t); };
  return side(tile_h) + "x" + side(tile_w) + " latent tiles, overlap " + std::to_string(overlap);
}

void VaeTiling::validate() const {
  require(tile_h >= 0 && tile_w >= 0 && overlap >= 0,
          "VAE tiling " + describe() + ": sizes must not be negative");
  for (int64_t t : {tile_h, tile_w}) {
    require(t == 0 || t > 2 * overlap,
            "VAE tiling " + describe() + ": a tile must be larger than twice the overlap",
            "use a larger tile or a smaller overlap (default: a quarter of the tile, at most 16)");
  }
}

std::vector<int64_t> vae_tile_starts(int64_t size, int64_t tile, int64_t overlap) {
  if (tile <= 0 || tile >= size) return {0};
  const int64_t stride = tile - overlap;  // > 0 once validated
  const int64_t count = (size - overlap + stride - 1) / stride;
  std::vector<int64_t> starts(count);
  // Even spacing (rounded): every step is <= stride, so neighbours share >= overlap.
  for (int64_t i = 0; i < count; ++i) starts[i] = (i * (size - tile) + (count - 1) / 2) / (count - 1);
  return starts;
}

namespace {

// Blend weights of tile `i` along one axis, in image pixels: a linear ramp
// over the overlap with each neighbour (centred on pixels, so two opposite
// ramps over the same overlap sum to exactly one), 1 elsewhere.
at::Tensor ramp_weights(const std::vector<int64_t>& starts, size_t i, int64_t tile, int64_t upscale,
                        const at::TensorOptions& options) {
  const int64_t length = tile * upscale;
  auto pos = at::arange(length, options).add_(0.5);
  auto w = at::ones({length}, options);
  if (i > 0) {
    const int64_t left = (starts[i - 1] + tile - starts[i]) * upscale;
    if (left > 0) w = at::minimum(w, pos / static_cast<double>(left));
  }
  if (i + 1 < starts.size()) {
    const int64_t right = (starts[i] + tile - starts[i + 1]) * upscale;
    if (right > 0) w = at::minimum(w, (static_cast<double>(length) - pos) / static_cast<double>(right));
  }
  return w;
}

}  // namespace

at::Tensor decode_tiled(const at::Tensor& z, const VaeTiling& tiling, int64_t upscale,
                        const std::function<at::Tensor(const at::Tensor&)>& decode_tile) {
  tiling.validate();
  const int64_t h = z.size(2), w = z.size(3);
  if (tiling.covers(h, w)) return decode_tile(z).to(at::kFloat);
  const int64_t tile_h = tiling.tile_h > 0 ? std::min(tiling.tile_h, h) : h;
  const int64_t tile_w = tiling.tile_w > 0 ? std::min(tiling.tile_w, w) : w;
  const auto rows = vae_tile_starts(h, tile_h, tiling.overlap);
  const auto cols = vae_tile_starts(w, tile_w, tiling.overlap);
  const auto fopt = z.options().dtype(at::kFloat);

  at::Tensor image, weight_sum;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto wy = ramp_weights(rows, i, tile_h, upscale, fopt);
    for (size_t j = 0; j < cols.size(); ++j) {
      auto piece = decode_tile(z.narrow(2, rows[i], tile_h).narrow(3, cols[j], tile_w).contiguous());
      const std::vector<int64_t> expected{z.size(0), piece.dim() == 4 ? piece.size(1) : -1, tile_h * upscale,
                                          tile_w * upscale};
      if (piece.sizes().vec() != expected)
        throw Error("tiled VAE decode: a tile decoded to " + format_shape(piece.sizes().vec()) + ", expected " +
                    format_shape(expected));
      if (!image.defined()) {
        image = at::zeros({z.size(0), piece.size(1), h * upscale, w * upscale}, fopt);
        weight_sum = at::zeros({h * upscale, w * upscale}, fopt);
      }
      const auto weight = wy.unsqueeze(1) * ramp_weights(cols, j, tile_w, upscale, fopt).unsqueeze(0);
      const int64_t y0 = rows[i] * upscale, x0 = cols[j] * upscale;
      image.narrow(2, y0, tile_h * upscale).narrow(3, x0, tile_w * upscale).addcmul_(piece.to(at::kFloat), weight);
      weight_sum.narrow(0, y0, tile_h * upscale).narrow(1, x0, tile_w * upscale).add_(weight);
    }
  }
  return image.div_(weight_sum);
}

}  // namespace baton::models
