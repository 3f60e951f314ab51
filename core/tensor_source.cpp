#include "core/tensor_source.h"

#include "core/error.h"

namespace baton {

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

at::Tensor TensorSource::load_checked(const std::string& name, const std::vector<int64_t>& expected,
                                      const at::TensorOptions& options) const {
  if (!contains(name))
    throw Error(describe() + ": tensor " + name + " is missing (expected shape " +
                    format_shape(expected) + ")",
                "check that the checkpoint matches the model configuration");
  auto found = shape(name);
  if (found != expected)
    throw Error(describe() + ": tensor " + name + " has shape " + format_shape(found) +
                    ", expected " + format_shape(expected),
                "the checkpoint does not match its config.json");
  return load(name, options);
}

TensorMap::TensorMap(std::map<std::string, at::Tensor> tensors, std::string label)
    : tensors_(std::move(tensors)), label_(std::move(label)) {}

void TensorMap::insert(const std::string& name, at::Tensor tensor) {
  tensors_[name] = std::move(tensor);
}

bool TensorMap::contains(const std::string& name) const { return tensors_.count(name) != 0; }

std::vector<int64_t> TensorMap::shape(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(label_ + ": tensor " + name + " is missing");
  return it->second.sizes().vec();
}

at::Tensor TensorMap::load(const std::string& name, const at::TensorOptions& options) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(label_ + ": tensor " + name + " is missing");
  return it->second.to(options.device(), options.dtype().toScalarType(), false, true);
}

std::vector<std::string> TensorMap::names() const {
  std::vector<std::string> out;
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

PrefixedSource::PrefixedSource(const TensorSource& base, std::string prefix)
    : base_(base), prefix_(std::move(prefix)) {}

bool PrefixedSource::contains(const std::string& name) const { return base_.contains(prefix_ + name); }

std::vector<int64_t> PrefixedSource::shape(const std::string& name) const {
  return base_.shape(prefix_ + name);
}

at::Tensor PrefixedSource::load(const std::string& name, const at::TensorOptions& options) const {
  return base_.load(prefix_ + name, options);
}

std::vector<std::string> PrefixedSource::names() const {
  std::vector<std::string> out;
  for (const auto& n : base_.names())
    if (n.compare(0, prefix_.size(), prefix_) == 0) out.push_back(n.substr(prefix_.size()));
  return out;
}

std::string PrefixedSource::describe() const { return base_.describe(); }

}  // namespace baton
