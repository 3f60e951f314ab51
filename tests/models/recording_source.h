#pragma once
// A TensorSource that remembers which tensors were loaded (tests of what a
// model or a model piece reads).
#include <mutex>
#include <set>
#include <string>

#include "core/tensor_source.h"

namespace baton::test {

class RecordingSource : public TensorSource {
 public:
  explicit RecordingSource(const TensorSource& base) : base_(base) {}
  bool contains(const std::string& name) const override { return base_.contains(name); }
  std::vector<int64_t> shape(const std::string& name) const override { return base_.shape(name); }
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override {
    loaded_.insert(name);
    return base_.load(name, options);
  }
  std::vector<std::string> names() const override { return base_.names(); }
  std::string describe() const override { return base_.describe(); }
  const std::set<std::string>& loaded() const { return loaded_; }

 private:
  const TensorSource& base_;
  mutable std::set<std::string> loaded_;
};

}  // namespace baton::test
