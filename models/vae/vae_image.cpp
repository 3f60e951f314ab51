#include "models/vae/vae_image.h"

#include "core/error.h"
#include "core/tensor_source.h"  // format_shape

namespace baton::models {

at::Tensor image_to_unit(const at::Tensor& image) {
  return ((image.to(at::kFloat) + 1.0) / 2.0).clamp_(0.0, 1.0);
}

at::Tensor image_to_rgb8(const at::Tensor& image) {
  require(image.defined() && image.dim() == 4 && image.size(1) == 3,
          "decoded image has shape " + (image.defined() ? format_shape(image.sizes().vec()) : std::string("(none)")) +
              "; expected [B, 3, H, W]");
  // Round half to even like numpy's round in the reference pipeline.
  return image_to_unit(image).mul_(255.0).round_().to(at::kByte).permute({0, 2, 3, 1}).contiguous().cpu();
}

}  // namespace baton::models
