#include "io/renamed_source.h"

#include "core/error.h"

namespace baton::io {

RenamedSource::RenamedSource(std::shared_ptr<const Checkpoint> checkpoint, std::shared_ptr<const TensorNaming> naming)
    : checkpoint_(std::move(checkpoint)), naming_(std::move(naming)) {
  for (const auto& file_name : checkpoint_->names()) {
    auto part = naming_->to_canonical(file_name);
    if (!part) {
      unmapped_.push_back(file_name);
      continue;
    }
    auto& r = recipes_[part->canonical];
    if (r.parts.empty()) r.parts.resize(static_cast<size_t>(part->count));
    auto& slot = r.parts.at(static_cast<size_t>(part->index));
    if (!slot.empty())
      throw Error(describe() + ": tensors " + slot + " and " + file_name + " both map to " + part->canonical,
                  "the file mixes two naming conventions");
    slot = file_name;
    r.conv1x1 = part->conv1x1;
  }
  for (const auto& kv : recipes_)
    for (size_t i = 0; i < kv.second.parts.size(); ++i)
      if (kv.second.parts[i].empty()) {
        const auto expected = naming_->to_file(kv.first);
        throw Error(describe() + ": tensor " + kv.first + " is stored in " + std::to_string(kv.second.parts.size()) +
                    " parts, but part " + (i < expected.size() ? expected[i] : std::to_string(i)) + " is missing");
      }
}

const RenamedSource::Recipe& RenamedSource::find(const std::string& name) const {
  auto it = recipes_.find(name);
  if (it == recipes_.end()) throw Error(describe() + ": tensor " + name + " is missing");
  return it->second;
}

const std::vector<std::string>& RenamedSource::parts(const std::string& name) const { return find(name).parts; }

std::vector<int64_t> RenamedSource::shape(const std::string& name) const {
  const auto& r = find(name);
  auto shape = checkpoint_->shape(r.parts[0]);
  if (r.conv1x1) {
    if (shape.size() != 4 || shape[2] != 1 || shape[3] != 1)
      throw Error(describe() + ": tensor " + r.parts[0] + " has shape " + format_shape(shape) +
                  ", expected a 1x1 convolution [out, in, 1, 1]");
    shape.resize(2);
  }
  for (size_t i = 1; i < r.parts.size(); ++i) {
    const auto s = checkpoint_->shape(r.parts[i]);
    if (s.empty() || shape.empty() || !std::equal(s.begin() + 1, s.end(), shape.begin() + 1, shape.end()))
      throw Error(describe() + ": tensors " + r.parts[0] + " " + format_shape(checkpoint_->shape(r.parts[0])) +
                  " and " + r.parts[i] + " " + format_shape(s) + " cannot be concatenated into " + name);
    shape[0] += s[0];
  }
  return shape;
}

at::Tensor RenamedSource::load(const std::string& name, const at::TensorOptions& options) const {
  const auto& r = find(name);
  const auto target = shape(name);  // validates before any byte is read
  if (r.parts.size() == 1) {
    auto t = checkpoint_->load(r.parts[0], options);
    return r.conv1x1 ? t.reshape(target) : t;
  }
  std::vector<at::Tensor> pieces;
  for (const auto& p : r.parts) pieces.push_back(checkpoint_->load(p, options));
  return at::cat(pieces, 0);
}

std::vector<std::string> RenamedSource::names() const {
  std::vector<std::string> out;
  out.reserve(recipes_.size());
  for (const auto& kv : recipes_) out.push_back(kv.first);
  return out;
}

}  // namespace baton::io
