#pragma once
// A checkpoint seen under canonical names (io/tensor_naming.h): renames,
// concatenates split tensors (diffusers to_q/to_k/to_v -> qkv) and reshapes
// 1x1-conv weights to linear ones, all when a tensor is loaded. A stage that
// asks for a few tensors reads only their bytes.
#include <memory>
#include <string>
#include <vector>

#include "core/tensor_source.h"
#include "io/checkpoint.h"
#include "io/tensor_naming.h"

namespace baton::io {

class RenamedSource : public TensorSource {
 public:
  // Maps every tensor of `checkpoint`; throws Error naming the file when a
  // split tensor lacks a part or two file tensors claim the same place.
  RenamedSource(std::shared_ptr<const Checkpoint> checkpoint, std::shared_ptr<const TensorNaming> naming);

  bool contains(const std::string& name) const override { return recipes_.count(name) != 0; }
  std::vector<int64_t> shape(const std::string& name) const override;
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override;
  std::vector<std::string> names() const override;
  std::string describe() const override { return checkpoint_->describe(); }

  const Checkpoint& checkpoint() const { return *checkpoint_; }
  const TensorNaming& naming() const { return *naming_; }
  // The file tensors a canonical tensor is made of, in concatenation order.
  const std::vector<std::string>& parts(const std::string& name) const;
  // File tensors outside the network (vision tower, VAE encoder, tokenizer blobs).
  const std::vector<std::string>& unmapped() const { return unmapped_; }
  uint64_t bytes_read() const { return checkpoint_->bytes_read(); }

 private:
  struct Recipe {
    std::vector<std::string> parts;
    bool conv1x1 = false;
  };
  const Recipe& find(const std::string& name) const;

  std::shared_ptr<const Checkpoint> checkpoint_;
  std::shared_ptr<const TensorNaming> naming_;
  std::map<std::string, Recipe> recipes_;
  std::vector<std::string> unmapped_;
};

}  // namespace baton::io
