#include "core/random_tensor_source.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <functional>

#include "core/error.h"

namespace baton {

RandomTensorSource::RandomTensorSource(std::map<std::string, std::vector<int64_t>> shapes, uint64_t seed,
                                       double norm_offset, std::string label)
    : shapes_(std::move(shapes)), seed_(seed), norm_offset_(norm_offset), label_(std::move(label)) {}

bool RandomTensorSource::contains(const std::string& name) const { return shapes_.count(name) != 0; }

std::vector<int64_t> RandomTensorSource::shape(const std::string& name) const {
  auto it = shapes_.find(name);
  if (it == shapes_.end()) throw Error(label_ + ": tensor " + name + " is missing");
  return it->second;
}

at::Tensor RandomTensorSource::load(const std::string& name, const at::TensorOptions& options) const {
  const auto shp = shape(name);
  // FNV-1a of the name, mixed with the seed: stable across runs and platforms.
  uint64_t h = 1469598103934665603ull ^ seed_;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(h);
  // Draw in float32 on the CPU so the values are the same whatever the target
  // device; large tensors are then moved once.
  auto t = at::empty(shp, at::kFloat);
  if (shp.size() >= 2) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shp.size(); ++i) fan_in *= shp[i];
    t.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1))), gen);
  } else {
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    t.normal_(is_bias ? 0.0 : norm_offset_, 0.02, gen);
  }
  return t.to(options.device(), options.dtype().toScalarType());
}

std::vector<std::string> RandomTensorSource::names() const {
  std::vector<std::string> out;
  for (const auto& kv : shapes_) out.push_back(kv.first);
  return out;
}

}  // namespace baton
