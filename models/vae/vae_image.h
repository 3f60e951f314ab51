#pragma once
// From the decoder's output in [-1, 1] to what is shown and saved (spec E.2,
// pipeline post-processing).
#include <ATen/ATen.h>

namespace baton::models {

// clamp((x + 1) / 2, 0, 1) in float32; same shape [B, 3, H, W].
at::Tensor image_to_unit(const at::Tensor& image);
// round(image_to_unit(x) * 255) as uint8 [B, H, W, 3] (HWC), contiguous, on the
// CPU: what a PNG stores. Refuses anything but [B, 3, H, W].
at::Tensor image_to_rgb8(const at::Tensor& image);

}  // namespace baton::models
