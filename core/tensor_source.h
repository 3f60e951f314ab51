#pragma once
// Where a model gets its weights from, by canonical tensor name. Models see
// only this interface (design.md: a model knows no files); io/ implements it
// over checkpoints, tests implement it over golden files or in-memory maps.
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace baton {

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  virtual bool contains(const std::string& name) const = 0;
  // Shape without reading the data; throws Error if the tensor is absent.
  virtual std::vector<int64_t> shape(const std::string& name) const = 0;
  // Reads the tensor straight into `options` (device and dtype). Throws Error
  // naming the tensor if it is absent or unreadable.
  virtual at::Tensor load(const std::string& name, const at::TensorOptions& options) const = 0;
  // Every tensor name this source holds (canonical names), sorted.
  virtual std::vector<std::string> names() const = 0;
  // Where the tensors come from, for error messages ("checkpoint .../transformer").
  virtual std::string describe() const = 0;

  // load() plus a shape check: a wrong shape is an Error naming the tensor,
  // the shape found and the shape the configuration expects.
  at::Tensor load_checked(const std::string& name, const std::vector<int64_t>& expected,
                          const at::TensorOptions& options) const;
};

// Tensors held in memory; for tests and for weights made on the spot.
class TensorMap : public TensorSource {
 public:
  TensorMap() = default;
  explicit TensorMap(std::map<std::string, at::Tensor> tensors, std::string label = "in-memory");

  void insert(const std::string& name, at::Tensor tensor);
  bool contains(const std::string& name) const override;
  std::vector<int64_t> shape(const std::string& name) const override;
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override;
  std::vector<std::string> names() const override;
  std::string describe() const override { return label_; }

 private:
  std::map<std::string, at::Tensor> tensors_;
  std::string label_ = "in-memory";
};

// A view of another source under a name prefix: PrefixedSource(src, "layers.3.")
// serves "attention.qkv.weight" as src's "layers.3.attention.qkv.weight".
class PrefixedSource : public TensorSource {
 public:
  PrefixedSource(const TensorSource& base, std::string prefix);

  bool contains(const std::string& name) const override;
  std::vector<int64_t> shape(const std::string& name) const override;
  at::Tensor load(const std::string& name, const at::TensorOptions& options) const override;
  std::vector<std::string> names() const override;
  std::string describe() const override;

 private:
  const TensorSource& base_;
  std::string prefix_;
};

// Formats a shape as "[3840, 2304]" for messages.
std::string format_shape(const std::vector<int64_t>& shape);

}  // namespace baton
